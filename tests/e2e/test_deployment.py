"""Blue-green deployment across both engines, proved by real dag.test() runs.

Every scenario checks prod by checksums of each prod relation (SQLMesh prod views and
dbt live views): after a failure prod equals its checksums from before, after a success
it equals green, and never anything in between.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouses import Warehouse

SQLMESH_PROD = ["raw.raw_customers", "raw.raw_orders", "staging.stg_orders", "staging.customer_enhanced", "intermediate.customer_lifetime", "reporting.value_band_summary"]
DBT_PROD = ["analytics.stg_customers", "analytics.stg_completed_orders", "analytics.customer_order_summary", "analytics.customer_value"]
PROD = SQLMESH_PROD + DBT_PROD


def deploy_source(dag_id: str, project: Path, **kwargs) -> str:
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return f"from airflow_provider_dualengine import build_deploy_dag\ndag = build_deploy_dag({str(project)!r}, environment='production', dag_id={dag_id!r}{args})\n"


def rollback_source(dag_id: str, project: Path) -> str:
    return f"from airflow_provider_dualengine import build_rollback_dag\ndag = build_rollback_dag({str(project)!r}, environment='production', dag_id={dag_id!r})\n"


def prod_checksums(warehouse: Warehouse) -> dict[str, tuple | None]:
    present = warehouse.views()
    return {rel: warehouse.checksum(rel) if rel in present else None for rel in PROD}


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def records(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query("SELECT id, status, details FROM dualengine.deployments ORDER BY started_at")


@pytest.mark.e2e
def test_deploy_then_rollback_restores_prod_exactly(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    import json

    kind = warehouse.kind
    first = scenario_dag(f"deploy_a_{kind}", deploy_source(f"deploy_a_{kind}", shop))
    assert str(first.state) == "success", states(first)
    v1 = prod_checksums(warehouse)
    assert all(v1.values()), v1  # every prod relation of both engines exists
    assert v1["analytics.customer_value"][0] == 50 and v1["reporting.value_band_summary"][0] > 0
    assert warehouse.scalar("SELECT live_slot FROM dualengine.dbt_slots") == "analytics__blue"
    [(dep_id, status, details)] = records(warehouse)
    assert status == "succeeded" and json.loads(details)["promotion_seconds"] > 0
