"""SQLMesh through Airflow, on DuckDB and on PostgreSQL (state in PostgreSQL too):
plan into dev, promote to prod as a pure view swap, a run with nothing to do, and a
failing model that fails exactly its own task and leaves prod untouched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.example_models import EXAMPLE_SQLMESH_MODELS
from tests.warehouses import Warehouse

SQLMESH_MODELS = EXAMPLE_SQLMESH_MODELS


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def _factory_dag(dag_id: str, project: Path, environment: str | None = None, sqlmesh_action: str = "plan") -> str:
    return (
        "from airflow_provider_dualengine import ExecutionConfig, ProjectConfig, build_dag\n"
        f"dag = build_dag(ProjectConfig({str(project)!r}, environment={environment!r}), dag_id={dag_id!r},"
        f" execution_config=ExecutionConfig(sqlmesh_action={sqlmesh_action!r}))\n"
    )


def _promote_dag(dag_id: str, project: Path) -> str:
    return f"""
import pendulum
from airflow.sdk import DAG
from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPromoteOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
    SQLMeshPromoteOperator(task_id="promote", project_path={str(project / "sqlmesh")!r}, source_environment="dev", conn_id="dualengine_warehouse", pool="dualengine_warehouse")
"""


@pytest.mark.e2e
# DuckDB only, to keep CI under 20 minutes: on PostgreSQL the deployment fault chain plans
# into an environment, promotes through SQLMesh's apply and checks contracts on every run
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_dev_plan_promotion_and_idle_run(
    shop: Path, warehouse: Warehouse, scenario_dag, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlmesh

    contexts: list[object] = []

    class CountingContext(sqlmesh.Context):
        def __init__(self, *args, **kwargs):
            contexts.append(kwargs.get("paths"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sqlmesh, "Context", CountingContext)
    kind = warehouse.kind

    # 1. plan into dev: dev views appear, prod has nothing
    run = scenario_dag(f"dev_{kind}", _factory_dag(f"dev_{kind}", shop))
    states = _states(run)
    assert str(run.state) == "success", states
    assert len(contexts) == 3, "one SQLMesh Context per SQLMesh stage, not per model"
    assert {f"{m.split('.')[0]}__dev.{m.split('.')[1]}" for m in SQLMESH_MODELS} <= warehouse.views()
    assert not {"raw", "staging", "intermediate", "reporting"} & warehouse.schemas()
    assert warehouse.scalar("SELECT count(*) FROM analytics_dev.customer_order_summary") == 50
    # the SQLMesh model downstream of dbt read the dbt mart of its own environment
    assert warehouse.scalar("SELECT sum(customers) FROM reporting__dev.value_band_summary") == 50
    # every contract check ran against this warehouse and passed, both directions
    for task_id in ("stage_1_sqlmesh.contract__staging__customer_enhanced", "stage_3_dbt.contract__customer_value"):
        report = run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
        assert report["passed"] and report["failed"] == 0, report
        assert {"column_type", "not_null", "unique", "accepted_values"} <= {r["check"] for r in report["results"]}
    tables_before = warehouse.physical_tables()

    # 2. promotion: no new table, no backfill, prod views serve exactly the dev data
    run = scenario_dag(f"promote_{kind}", _promote_dag(f"promote_{kind}", shop))
    assert str(run.state) == "success", _states(run)
    result = run.get_task_instance("promote").xcom_pull(task_ids="promote")
    assert result["swapped"] == sorted(SQLMESH_MODELS)
    assert warehouse.physical_tables() == tables_before
    for model in SQLMESH_MODELS:
        schema, table = model.split(".")
        assert warehouse.checksum(f"{schema}.{table}") == warehouse.checksum(f"{schema}__dev.{table}")

    # 3. a cron run with nothing due succeeds and builds nothing
    contexts.clear()
    run = scenario_dag(
        f"idle_{kind}", _factory_dag(f"idle_{kind}", shop, environment="production", sqlmesh_action="run")
    )
    assert str(run.state) == "success", _states(run)
    executor = run.get_task_instance("stage_1_sqlmesh.sqlmesh.run_stage").xcom_pull(
        task_ids="stage_1_sqlmesh.sqlmesh.run_stage"
    )
    assert executor["action"] == "run" and executor["failed"] == [] and executor["models"] == {}
    model_task = run.get_task_instance("stage_1_sqlmesh.sqlmesh.staging__stg_orders")
    assert model_task.xcom_pull(task_ids=model_task.task_id)["status"] == "up to date"
    assert warehouse.physical_tables() == tables_before


@pytest.mark.e2e
# DuckDB only, to keep CI short: the failure is reported by SQLMesh's console the same way on
# both warehouses
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_failing_model_fails_only_its_task_and_prod_is_untouched(
    shop: Path, warehouse: Warehouse, scenario_dag
) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    kind = warehouse.kind
    run = scenario_dag(f"prod_{kind}", _factory_dag(f"prod_{kind}", shop, environment="production"))
    assert str(run.state) == "success", _states(run)
    prod_before = {m: warehouse.checksum(m) for m in SQLMESH_MODELS}
    views_before = warehouse.views()

    model = shop / "sqlmesh" / "models" / "shared" / "customer_enhanced.py"
    source = model.read_text()
    body = re.search(r"\ndef execute\([^)]*\)[^:]*:\n", source, re.S)
    assert body, "the example's Python model should define execute()"
    model.write_text(
        source[: body.end()] + "    raise RuntimeError('scoring service unavailable')\n" + source[body.end() :]
    )
    compile_project(load_project(shop))

    run = scenario_dag(f"prod_broken_{kind}", _factory_dag(f"prod_broken_{kind}", shop, environment="production"))
    states = _states(run)
    assert str(run.state) == "failed"
    failed = sorted(t for t, s in states.items() if s == "failed")
    assert failed == ["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"]
    for ok in ("run_stage", "raw__raw_customers", "raw__raw_orders", "staging__stg_orders"):
        assert states[f"stage_1_sqlmesh.sqlmesh.{ok}"] == "success"
    downstream = {t: s for t, s in states.items() if t.startswith(("stage_2", "stage_3", "stage_4"))}
    assert downstream and set(downstream.values()) == {"upstream_failed"}
    ti = run.get_task_instance("stage_1_sqlmesh.sqlmesh.run_stage")
    assert (
        "scoring service unavailable"
        in ti.xcom_pull(task_ids=ti.task_id)["models"]["staging.customer_enhanced"]["error"]
    )
    assert {m: warehouse.checksum(m) for m in SQLMESH_MODELS} == prod_before
    assert warehouse.views() == views_before
