"""SQLMesh name helpers that need no SQLMesh import."""

from __future__ import annotations


def plain_name(fqn: str) -> str:
    """'"shop"."staging"."stg_orders"' or 'staging.stg_orders' -> 'staging.stg_orders'."""
    parts = [p.strip('"').strip("`") for p in fqn.split(".")]
    return ".".join(parts[-2:])


def task_id_for(model: str) -> str:
    """Airflow task id of a model's task: dots separate groups in Airflow, so use '__'."""
    return model.replace(".", "__")
