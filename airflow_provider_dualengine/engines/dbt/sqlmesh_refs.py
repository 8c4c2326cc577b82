"""SQLMesh models as external dbt nodes, so `ref('staging.customer_enhanced')` works in dbt.

Used by the `dbt_dualengine` plugin during every dbt parse. The node's schema carries
the SQLMesh environment suffix from the dbt var `sqlmesh_schema_suffix` (or the name
dualengine.yml gives it as `dbt.sqlmesh_suffix_var`, recorded in the compiled artifact; the
factory passes "__dev" in development and "" in production, as it does for dbt sources), so the
same dbt code reads `staging__dev.customer_enhanced` in dev and `staging.customer_enhanced`
in prod. The database is the one dbt itself uses for its own models (its adapter's
credentials: dbt-duckdb's catalog name derived from the file, PostgreSQL's dbname), because
SQLMesh writes into the same warehouse: every tool that names the relation from dbt's
manifest (Cosmos, openlineage-dbt) then names it `<database>.<schema>.<table>` exactly as
our SQLMesh tasks name their output, and lineage joins across the cross-engine `ref()`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from dbt.contracts.graph.node_args import ModelNodeArgs
from dbt.plugins.manifest import PluginNodes

from airflow_provider_dualengine.config.names import IDENTIFIER

MODELS_FILE_ENV = "DUALENGINE_SQLMESH_MODELS"
SUFFIX_VAR = "sqlmesh_schema_suffix"
PACKAGE = "sqlmesh"  # ref('sqlmesh', 'staging.customer_enhanced') names it explicitly
SETTINGS_FILE = "dualengine.yml"


class SQLMeshRefError(ValueError):
    pass


def sqlmesh_model_nodes(
    models: dict[str, Any], schema_suffix: str, suffix_var: str = SUFFIX_VAR, database: str | None = None
) -> PluginNodes:
    """One public external model per SQLMesh model, named `schema.table` like in SQLMesh,
    in `database` (None: dbt renders the relation without one)."""
    if schema_suffix and not re.match(IDENTIFIER, f"x{schema_suffix}"):
        raise SQLMeshRefError(
            f"dbt var {suffix_var}={schema_suffix!r} is not a valid schema suffix (letters, digits, underscores)"
        )
    nodes = PluginNodes()
    for name in models:
        schema, table = name.rsplit(".", 1)
        nodes.add_model(
            ModelNodeArgs(
                name=name,
                package_name=PACKAGE,
                identifier=table,
                schema=f"{schema}{schema_suffix}",
                database=database,
                access="public",
            )
        )
    return nodes


def _models_file(project_dir: Path) -> Path | None:
    """The SQLMesh model list: $DUALENGINE_SQLMESH_MODELS (set by compile and by the
    factory's dbt tasks, which run from a temporary copy of the project), else the compiled
    artifact of the dual-engine project above the dbt project (dbt run by hand)."""
    if os.environ.get(MODELS_FILE_ENV):
        return Path(os.environ[MODELS_FILE_ENV])
    for folder in (project_dir, *project_dir.parents):
        if (folder / SETTINGS_FILE).is_file():
            from airflow_provider_dualengine.config.project import load_project

            return load_project(folder).artifact_path
    return None


def suffix_var(document: dict[str, Any]) -> str:
    """The dbt var carrying the SQLMesh suffix, as the compiled artifact records it."""
    return str((document.get("dbt") or {}).get("sqlmesh_suffix_var") or SUFFIX_VAR)


def _current_suffix(var: str = SUFFIX_VAR) -> str:
    from dbt.flags import get_flags

    cli_vars = getattr(get_flags(), "VARS", None) or {}
    return str(cli_vars.get(var, "") or "")


def _current_database() -> str | None:
    """The database of the adapter this dbt invocation registered (dbt registers exactly
    one per invocation, before it parses); None outside an invocation."""
    from dbt.adapters.factory import FACTORY

    adapters = list(FACTORY.adapters.values())
    if len(adapters) != 1:
        return None
    credentials = getattr(getattr(adapters[0], "config", None), "credentials", None)
    return getattr(credentials, "database", None) or None


def sqlmesh_plugin_nodes() -> PluginNodes:
    from dbt.flags import get_flags

    project_dir = Path(getattr(get_flags(), "PROJECT_DIR", None) or os.getcwd()).resolve()
    path = _models_file(project_dir)
    if path is None:
        return PluginNodes()
    if not path.is_file():
        raise SQLMeshRefError(
            f"SQLMesh model list {path} not found: run `dualengine compile` in the dual-engine project"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SQLMeshRefError(
            f"SQLMesh model list {path} is not JSON ({exc}): run `dualengine compile` in the dual-engine project"
        ) from None
    if not isinstance(document, dict) or not isinstance((document.get("sqlmesh") or {}).get("models"), dict):
        raise SQLMeshRefError(
            f"SQLMesh model list {path} has no sqlmesh.models: run `dualengine compile` in the dual-engine project"
        )
    var = suffix_var(document)
    return sqlmesh_model_nodes(document["sqlmesh"]["models"], _current_suffix(var), var, _current_database())
