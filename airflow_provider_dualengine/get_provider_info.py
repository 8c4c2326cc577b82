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
        "description": "Run SQLMesh and dbt side by side as one platform: DAG factory, SQLMesh operators, cross-engine stages.",
        "versions": [__version__],
        "integrations": [{"integration-name": _INTEGRATION, "tags": ["software"]}],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_dualengine.hooks.sqlmesh"]}],
        "operators": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_dualengine.operators.sqlmesh"]}],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": ["airflow_provider_dualengine.sensors.external_input"]}],
    }
