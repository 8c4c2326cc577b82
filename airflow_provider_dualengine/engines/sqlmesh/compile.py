"""Load the SQLMesh project once (at compile time, never at parse time) and describe its models.

The description (names, kinds, crons, dependencies, column types) is what the DAG factory
renders per-model tasks from. The Context is built on an in-memory DuckDB: loading
models needs no warehouse, and compile must not need credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name


def describe_sqlmesh_project(project_path: Path, gateway: str | None = None) -> dict[str, Any]:
    from sqlmesh import Context
    from sqlmesh.core.config.connection import DuckDBConnectionConfig
    from sqlmesh.core.model import PythonModel

    from airflow_provider_dualengine.engines.sqlmesh.project_config import load_project_config

    project_path = project_path.resolve()
    offline = DuckDBConnectionConfig(database=":memory:")
    config, gateway_name = load_project_config(project_path, gateway, connection=offline, state_connection=offline, test_connection=offline)
    ctx = Context(paths=[project_path], config=config, gateway=gateway_name)
    try:
        models = {}
        project_names = {plain_name(m.fqn) for m in ctx.models.values()}
        for model in ctx.models.values():
            name = plain_name(model.fqn)
            columns = model.columns_to_types or {}
            models[name] = {
                "kind": model.kind.name.value if hasattr(model.kind.name, "value") else str(model.kind.name),
                "cron": model.cron,
                "depends_on": sorted(d for d in map(plain_name, model.depends_on) if d in project_names),
                "external_depends_on": sorted(d for d in map(plain_name, model.depends_on) if d not in project_names),
                "columns": {col: dtype.sql(dialect=model.dialect) for col, dtype in columns.items()},
                "python": isinstance(model, PythonModel),
                "path": str(Path(model._path).resolve().relative_to(project_path)) if model._path else None,
                "dialect": model.dialect,
                "audits": sorted(name for name, _ in model.audits),
            }
        return {"project_path": str(project_path), "gateway": gateway_name, "models": dict(sorted(models.items()))}
    finally:
        ctx.close()
