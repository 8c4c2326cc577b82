"""Provider registration dict, read by Airflow through the `apache_airflow_provider` entry point.

Nothing else belongs here: a schema error in this dict breaks provider discovery for
every provider in the cluster (tests/unit/test_provider_info.py guards it).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine import __version__

_INTEGRATION = "Dual engine (SQLMesh + dbt)"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-dualengine",
        "name": "Dual engine: SQLMesh and dbt",
        "description": "Run SQLMesh and dbt side by side as one platform: DAG factory, SQLMesh operators, cross-engine stages, data contracts, blue-green deployment across both engines.",
        "versions": [__version__],
        "integrations": [{"integration-name": _INTEGRATION, "tags": ["software"]}],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_dualengine.hooks.sqlmesh",
                    "airflow_provider_dualengine.hooks.dbt",
                    "airflow_provider_dualengine.hooks.duckdb",
                    "airflow_provider_dualengine.hooks.warehouse",
                    "airflow_provider_dualengine.hooks.airflow_api",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_dualengine.operators.sqlmesh",
                    "airflow_provider_dualengine.operators.sqlmesh_model",
                    "airflow_provider_dualengine.operators.dbt",
                    "airflow_provider_dualengine.operators.dbt_model",
                    "airflow_provider_dualengine.operators.contract_check",
                    "airflow_provider_dualengine.operators.contract_validation",
                    "airflow_provider_dualengine.operators.deployment",
                    "airflow_provider_dualengine.operators.project_checks",
                    "airflow_provider_dualengine.operators.alerts",
                    "airflow_provider_dualengine.operators.window_gate",
                    "airflow_provider_dualengine.operators.resources",
                    "airflow_provider_dualengine.operators.execution_plan",
                ],
            }
        ],
        "connection-types": [
            {
                # The warehouse connection the README documents: `airflow connections add
                # dualengine_warehouse --conn-type duckdb --conn-host /path/shop.duckdb`.
                "connection-type": "duckdb",
                "hook-class-name": "airflow_provider_dualengine.hooks.duckdb.DuckDBHook",
                "hook-name": "DuckDB",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "password", "port", "extra"],
                    "relabeling": {"host": "Database file"},
                    "placeholders": {"host": "/opt/airflow/warehouse/shop.duckdb"},
                },
            },
            {
                "connection-type": "sqlmesh",
                "hook-class-name": "airflow_provider_dualengine.hooks.sqlmesh.SQLMeshHook",
                "hook-name": "SQLMesh",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {
                        "host": "Host (Postgres) or DuckDB file path",
                        "schema": "Database (Postgres)",
                        "login": "User",
                        "password": "Password",
                    },
                    "placeholders": {
                        "host": "/opt/airflow/warehouse/shop.duckdb",
                        "port": "5432",
                        "schema": "analytics",
                    },
                },
                "conn-fields": {
                    "engine": {
                        "label": "Warehouse engine",
                        "schema": {"type": ["string", "null"], "enum": ["duckdb", "postgres"], "default": "duckdb"},
                    },
                    "project_path": {
                        "label": "SQLMesh project path",
                        "schema": {"type": ["string", "null"]},
                        "description": "Folder holding the SQLMesh config; operators may override it.",
                    },
                    "gateway": {
                        "label": "Gateway",
                        "schema": {"type": ["string", "null"]},
                        "description": "Gateway in the project's config whose connection these credentials replace.",
                    },
                },
            },
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_provider_dualengine.sensors.external_input",
                    "airflow_provider_dualengine.sensors.sqlmesh_freshness",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_provider_dualengine.triggers.sqlmesh_freshness"],
            }
        ],
        "notifications": ["airflow_provider_dualengine.notifications.webhook.WebhookNotifier"],
        "extra-links": [
            "airflow_provider_dualengine.links.view.ModelLineageLink",
            "airflow_provider_dualengine.links.view.ContractLink",
        ],
        "plugins": [{"name": "dualengine", "plugin-class": "airflow_provider_dualengine.ui.plugin.DualEnginePlugin"}],
        "config": {
            "dualengine": {
                "description": "The dual-engine view in the Airflow UI (api-server).",
                "options": {
                    "projects": {
                        "description": "Folders holding a dualengine.yml, comma-separated, that the view shows (compiled with `dualengine compile`). Unset: $DUALENGINE_PROJECT_DIR.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/transforms",
                        "default": "",
                    }
                },
            }
        },
    }
