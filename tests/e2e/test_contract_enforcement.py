"""Contracts enforced in a real DAG run, on DuckDB and PostgreSQL: a producer that breaks
its contract fails the check task, its consumers never run, nothing reaches prod."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouses import Warehouse


def _dag(dag_id: str, project: Path) -> str:
    return f"from airflow_provider_dualengine import build_dag\ndag = build_dag({str(project)!r}, dag_id={dag_id!r})\n"


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


@pytest.mark.e2e
def test_a_contract_violation_stops_the_consumers(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    # The producer now scores customer 7 at 150: outside the contract's check (0-100), and
    # not caught by SQLMesh's own audits (they test not-null and uniqueness only).
    model = shop / "sqlmesh" / "models" / "shared" / "customer_enhanced.py"
    source = model.read_text()
    marker = '    out["customer_score"] = out["customer_score"].astype("float64")\n'
    assert marker in source
    model.write_text(
        source.replace(marker, marker + '    out.loc[out["customer_id"] == 7, "customer_score"] = 150.0\n')
    )
    compile_project(load_project(shop))

    kind = warehouse.kind
    run = scenario_dag(f"contract_{kind}", _dag(f"contract_{kind}", shop))
    states = _states(run)
    assert str(run.state) == "failed"
    assert sorted(t for t, s in states.items() if s == "failed") == [
        "stage_1_sqlmesh.contract__staging__customer_enhanced"
    ]
    assert states["validate_contracts"] == "success"  # statically the contract holds; the data does not
    consumers = {t: s for t, s in states.items() if t.startswith(("stage_2", "stage_3", "stage_4"))}
    assert consumers and set(consumers.values()) == {"upstream_failed"}  # no dbt (or SQLMesh) consumer ran

    ti = run.get_task_instance("stage_1_sqlmesh.contract__staging__customer_enhanced")
    report = ti.xcom_pull(task_ids=ti.task_id, key="contract_report")
    [failure] = [r for r in report["results"] if not r["passed"] and not r.get("warning")]
    assert (failure["check"], failure["column"], failure["failing_rows"], failure["sample"]) == (
        "check",
        "customer_score",
        1,
        [7],
    )
    assert not {"raw", "staging", "intermediate", "reporting", "analytics"} & warehouse.schemas()  # prod untouched
    assert not any(s.startswith("analytics") for s in warehouse.schemas())  # dbt never ran


def _report(run, task_id: str) -> dict:
    ti = run.get_task_instance(task_id)
    return ti.xcom_pull(task_ids=task_id, key="contract_report") or ti.xcom_pull(task_ids=task_id)


def _freshness(report: dict) -> dict:
    [result] = [r for r in report["results"] if r["check"] == "freshness"]
    return result


@pytest.mark.e2e
def test_a_sqlmesh_producer_left_stale_blocks_its_consumers(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    """No freshness_column: the SLA is measured from SQLMesh's own record of its last write.
    A second run whose plan has nothing due (daily cron) leaves that write in the past; with
    the SLA tightened below its age, the check fails and no consumer runs."""
    import time
    from datetime import UTC, datetime

    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    compile_project(load_project(shop))
    kind = warehouse.kind
    first = scenario_dag(f"fresh_{kind}", _dag(f"fresh_{kind}", shop))
    assert str(first.state) == "success", _states(first)
    enhanced = _freshness(_report(first, "stage_1_sqlmesh.contract__staging__customer_enhanced"))
    assert (
        enhanced["passed"]
        and "SQLMesh's last write of staging.customer_enhanced in environment 'dev' is" in (enhanced["message"])
    )
    value_task = next(t for t in _states(first) if t.endswith("contract__customer_value"))
    value = _freshness(_report(first, value_task))
    assert value["passed"] and "dbt's build of customer_value in " in value["message"], value

    written = datetime.fromisoformat(
        _report(first, "stage_1_sqlmesh.contract__staging__customer_enhanced")["last_update"]
    )
    contract = shop / "shared" / "schemas" / "customer_enhanced.yml"
    contract.write_text(contract.read_text().replace('freshness: "< 1 day"', 'freshness: "< 3 seconds"'))
    time.sleep(max(0.0, 4 - (datetime.now(UTC) - written).total_seconds()))
    second = scenario_dag(f"stale_{kind}", _dag(f"stale_{kind}", shop))
    if datetime.now(UTC).date() != written.date():
        pytest.skip("a new daily interval became due between the runs, so SQLMesh rewrote the table")
    states = _states(second)
    assert str(second.state) == "failed"
    assert sorted(t for t, s in states.items() if s == "failed") == [
        "stage_1_sqlmesh.contract__staging__customer_enhanced"
    ]
    consumers = {t: s for t, s in states.items() if t.startswith(("stage_2", "stage_3", "stage_4"))}
    assert consumers and set(consumers.values()) == {"upstream_failed"}
    stale = _freshness(_report(second, "stage_1_sqlmesh.contract__staging__customer_enhanced"))
    assert not stale["passed"]
    assert stale["message"].startswith(
        "stale: SQLMesh's last write of staging.customer_enhanced in environment 'dev' is"
    )
    assert stale["message"].endswith("SLA '< 3 seconds'")
