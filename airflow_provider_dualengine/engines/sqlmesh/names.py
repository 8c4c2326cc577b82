"""SQLMesh name helpers that need no SQLMesh import."""

from __future__ import annotations

# Set by the factory's SQLMesh tasks to the dbt schema of their environment; read by the
# project macro that names dbt tables (engines/sqlmesh/dbt_tables.py).
DBT_SCHEMA_ENV = "DUALENGINE_DBT_SCHEMA"


def plain_name(fqn: str) -> str:
    """'"shop"."staging"."stg_orders"' or 'staging.stg_orders' -> 'staging.stg_orders'."""
    parts = [p.strip('"').strip("`") for p in fqn.split(".")]
    return ".".join(parts[-2:])


def task_id_for(model: str) -> str:
    """Airflow task id of a model's task: dots separate groups in Airflow, so use '__'."""
    return model.replace(".", "__")
