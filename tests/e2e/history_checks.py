"""What a successful run of the example leaves in the run history (monitoring/history.py),
checked by the end-to-end tests that run it."""

from __future__ import annotations

from typing import Any

from tests.warehouses import Warehouse


def assert_run_recorded(warehouse: Warehouse, graph: Any, dag_id: str, run_id: str, cosmos: bool = False) -> None:
    """Every model of both engines and every contract check of the run has its row: the
    right engine task, success, times, sizes (the engine's count or ours), tests; contract
    checks with their SLA met."""
    from airflow_provider_dualengine.graph import Engine

    rows = warehouse.query(
        "SELECT kind, engine, model, status, environment, dag_id, run_id, task_id, duration_s, rows, rows_source,"
        f" tests_passed, tests_failed, sla_met, started_at, ended_at, data_age_s FROM dualengine.run_history WHERE run_id = '{run_id}'"
    )
    models = {(r[1], r[2]): r for r in rows if r[0] == "model"}
    assert set(models) == {(m.engine.value, m.name) for m in graph.models()} and len(models) == 10
    for (engine, name), r in models.items():
        assert (r[3], r[4], r[5]) == ("success", "development", dag_id), r
        stage = graph.placement()[(Engine(engine), name)]
        task = f"{stage}.{engine}." + (f"{name}.run" if cosmos and engine == "dbt" else "")
        assert r[7].startswith(task), (r, task)  # the engine task that ran it
        assert r[8] is not None and r[8] >= 0 and r[14] <= r[15], r
        assert r[9] is not None and r[9] > 0, r  # rows: the engine's count or ours
    # sizes are the tables' real sizes (the example's seed has 50 customers)
    assert models[("sqlmesh", "raw.raw_customers")][9] == 50 == models[("dbt", "customer_value")][9]
    if not cosmos:  # Cosmos runs a model's tests in a task of their own
        assert models[("dbt", "stg_customers")][11] > 0
    checks = {r[2]: r for r in rows if r[0] == "contract_check"}
    assert set(checks) == {"staging.customer_enhanced", "intermediate.customer_lifetime", "customer_value"}
    for r in checks.values():
        assert (r[3], r[12], r[13]) == ("success", 0, True) and r[11] > 0, r
        assert r[16] is not None and 0 <= r[16] < 600, r  # the data's age when checked: written this run
    assert checks["customer_value"][1] == "dbt" and checks["staging.customer_enhanced"][1] == "sqlmesh"


def assert_cost_is_the_hand_calculation(project: Any, warehouse: Warehouse, run_id: str) -> None:
    """The cost of a recorded run, as `dualengine metrics` computes it, is what the example's
    monitoring.yml gives by hand: development prices SQLMesh 'small' at 2.0 and dbt 'x-small'
    at 1.0 per compute-hour; the shared staging_warehouse (50.0 a month) costs a day's share,
    split between the engines in proportion to their execution seconds."""
    import calendar
    from datetime import UTC, datetime

    import pytest

    from airflow_provider_dualengine.monitoring.metrics import load_metrics

    seconds = dict.fromkeys(("sqlmesh", "dbt"), 0.0)
    for engine, duration in warehouse.query(
        f"SELECT engine, duration_s FROM dualengine.run_history WHERE kind = 'model' AND status = 'success' AND run_id = '{run_id}'"
    ):
        seconds[engine] += duration
    today = datetime.now(UTC)
    shared = 50.0 / calendar.monthrange(today.year, today.month)[1]
    own = {"sqlmesh": seconds["sqlmesh"] / 3600 * 2.0, "dbt": seconds["dbt"] / 3600 * 1.0}
    total_s = seconds["sqlmesh"] + seconds["dbt"]
    document = load_metrics(project, "development", days=1)
    assert document["cost"]["total"] == pytest.approx(own["sqlmesh"] + own["dbt"] + shared, abs=1e-5)
    for engine in ("sqlmesh", "dbt"):
        expected = own[engine] + shared * seconds[engine] / total_s
        assert document["cost"]["by_engine"][engine] == pytest.approx(expected, abs=1e-5), (engine, document["cost"])
