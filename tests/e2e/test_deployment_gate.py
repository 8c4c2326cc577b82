"""A regular run of an environment waits while a deployment of that environment holds it:
its warehouse writers defer (freeing worker and pool) and start once the lease is gone."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.warehouses import Warehouse

LEASE_S = 8


@pytest.mark.e2e
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_the_pipeline_waits_for_a_deployment_of_its_environment(
    shop: Path, warehouse: Warehouse, scenario_dag, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project
    from airflow_provider_dualengine.deployments import lease
    from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

    compile_project(load_project(shop))
    monkeypatch.setenv("DUALENGINE_DEPLOYMENT_POLL_S", "2")
    with WarehouseHook("dualengine_warehouse").session(autocommit=True) as session:
        lease.acquire(session, "development", "development-deploying", "deploy_dag/run_1", timedelta(seconds=LEASE_S))
    held_until = datetime.now(UTC) + timedelta(seconds=LEASE_S)
    started = time.monotonic()
    run = scenario_dag(
        "gate_duckdb",
        f"from airflow_provider_dualengine import build_dag\ndag = build_dag({str(shop)!r}, dag_id='gate_duckdb')\n",
    )
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    writer = run.get_task_instance("stage_1_sqlmesh.sqlmesh.run_stage")
    assert writer.try_number == 1  # waiting is not a failed try
    assert writer.end_date >= held_until, (writer.end_date, held_until)  # it wrote only after the lease was gone
    assert time.monotonic() - started >= LEASE_S
    # the other environment's lease would not have held it: a rollback of production is no reason to wait
    assert warehouse.scalar("SELECT count(*) FROM dualengine.deployment_leases WHERE environment = 'production'") == 0
