"""A real run of the example fills the run history of both engines, on DuckDB and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouses import Warehouse


@pytest.mark.e2e
def test_a_run_records_every_model_and_contract_check(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project
    from airflow_provider_dualengine.graph import Engine, build_graph

    project = load_project(shop)
    compile_project(project)
    graph = build_graph(load_project(shop))
    dag_id = f"history_{warehouse.kind}"
    run = scenario_dag(
        dag_id,
        f"from airflow_provider_dualengine import build_dag\ndag = build_dag({str(shop)!r}, dag_id={dag_id!r})\n",
    )
    assert str(run.state) == "success"

    rows = warehouse.query(
        "SELECT kind, engine, model, status, environment, dag_id, run_id, task_id, duration_s, rows, rows_source,"
        " tests_passed, tests_failed, sla_met, started_at, ended_at FROM dualengine.run_history"
    )
    models = {(r[1], r[2]): r for r in rows if r[0] == "model"}
    expected = {(m.engine.value, m.name) for m in graph.models()}
    assert set(models) == expected and len(expected) == 10
    for (engine, name), r in models.items():
        assert (r[3], r[4], r[5], r[6]) == ("success", "development", dag_id, run.run_id), r
        stage = graph.placement()[(Engine(engine), name)]
        assert r[7].startswith(f"{stage}.{engine}."), r  # the engine task that ran it
        assert r[8] is not None and r[8] >= 0 and r[14] <= r[15], r
        assert r[9] is not None and r[9] > 0, r  # rows: the engine's count or ours
    # sizes are the tables' real sizes (the example's seed has 50 customers)
    assert models[("sqlmesh", "raw.raw_customers")][9] == 50 == models[("dbt", "customer_value")][9]
    assert models[("dbt", "stg_customers")][11] > 0  # dbt tests counted for the model
    checks = {r[2]: r for r in rows if r[0] == "contract_check"}
    assert set(checks) == {"staging.customer_enhanced", "intermediate.customer_lifetime", "customer_value"}
    for r in checks.values():
        assert (r[3], r[12], r[13]) == ("success", 0, True) and r[11] > 0, r
    assert checks["customer_value"][1] == "dbt" and checks["staging.customer_enhanced"][1] == "sqlmesh"


@pytest.mark.e2e
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_cosmos_run_tasks_record_their_models(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    compile_project(load_project(shop))
    dag_id = "history_cosmos"
    source = (
        "from airflow_provider_dualengine import DbtExecution, RenderConfig, build_dag\n"
        f"dag = build_dag({str(shop)!r}, dag_id={dag_id!r}, render_config=RenderConfig(dbt_execution=DbtExecution.PER_MODEL))\n"
    )
    run = scenario_dag(dag_id, source)
    assert str(run.state) == "success"
    rows = warehouse.query(
        "SELECT model, task_id, status, rows, duration_s FROM dualengine.run_history WHERE engine = 'dbt' AND kind = 'model'"
    )
    assert sorted((r[0], r[1], r[2]) for r in rows) == [
        ("customer_order_summary", "stage_3_dbt.dbt.customer_order_summary.run", "success"),
        ("customer_value", "stage_3_dbt.dbt.customer_value.run", "success"),
        ("stg_completed_orders", "stage_2_mixed.dbt.stg_completed_orders.run", "success"),
        ("stg_customers", "stage_2_mixed.dbt.stg_customers.run", "success"),
    ]
    assert all(r[3] and r[3] > 0 and r[4] is not None for r in rows), rows
