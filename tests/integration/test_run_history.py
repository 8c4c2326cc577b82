"""Run history in the warehouse, on real DuckDB and PostgreSQL: a task's rows written once,
replaced (not added to) by a retry, read back typed; a write that fails never raises."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dualengine.hooks.warehouse import Warehouse
from airflow_provider_dualengine.monitoring import history
from airflow_provider_dualengine.monitoring.engine_records import TaskRun, count_missing_rows, record_task_history

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _model(task: TaskRun, model: str, status: str = "success", **fields: Any) -> history.RunRecord:
    return task.record(
        kind="model",
        engine="sqlmesh",
        model=model,
        status=status,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=3),
        duration_s=3.0,
        **fields,
    )


def test_a_retry_replaces_the_rows_of_the_models_it_ran_again(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    warehouse = Warehouse(db.cursor(), dialect)
    first = TaskRun("shop", "run_1", "stage_1.sqlmesh.run_stage", 1, "development")
    other = TaskRun("shop", "run_1", "stage_2.sqlmesh.run_stage", 1, "development")
    history.record(
        warehouse,
        [
            _model(first, "raw.a", "failed", message="boom password=hunter2"),
            _model(first, "raw.b"),
            _model(first, "raw.c"),
        ],
    )
    history.record(warehouse, [_model(other, "staging.c", rows=7, rows_source="engine", tests_passed=2)])
    # try 2 evaluates what is still missing (SQLMesh) or everything again (dbt): its models' rows
    # are replaced, the rows of models only try 1 ran (raw.c) stay
    retry = TaskRun("shop", "run_1", "stage_1.sqlmesh.run_stage", 2, "development")
    history.record(warehouse, [_model(retry, "raw.a"), _model(retry, "raw.b")])
    db.close()

    reader = connect()  # committed
    try:
        rows = history.read(Warehouse(reader.cursor(), dialect))
    finally:
        reader.close()
    assert sorted((r["task_id"], r["model"], r["status"], r["try_number"]) for r in rows) == [
        ("stage_1.sqlmesh.run_stage", "raw.a", "success", 2),
        ("stage_1.sqlmesh.run_stage", "raw.b", "success", 2),
        ("stage_1.sqlmesh.run_stage", "raw.c", "success", 1),
        ("stage_2.sqlmesh.run_stage", "staging.c", "success", 1),
    ]
    c = next(r for r in rows if r["model"] == "staging.c")
    assert (c["rows"], c["rows_source"], c["tests_passed"], c["duration_s"], c["started_at"]) == (
        7,
        "engine",
        2,
        3.0,
        T0,
    )


def test_reading_filters_by_time_and_environment(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    warehouse = Warehouse(db.cursor(), dialect)
    assert history.read(warehouse) == []  # no table yet: no history, no error
    dev, prod = TaskRun("d", "r1", "t1", 1, "development"), TaskRun("d", "r2", "t2", 1, "production")
    history.record(warehouse, [_model(dev, "m1")])
    later = prod.record(kind="model", engine="dbt", model="m2", status="success", started_at=T0 + timedelta(days=2))
    history.record(warehouse, [later])
    assert [r["model"] for r in history.read(warehouse, environment="production")] == ["m2"]
    assert [r["model"] for r in history.read(warehouse, since=T0 + timedelta(days=1))] == ["m2"]
    db.close()


def test_messages_are_stored_without_secrets(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    warehouse = Warehouse(db.cursor(), dialect)
    task = TaskRun("d", "r", "t", 1, "development")
    failure = _model(task, "m", "failed", message="could not connect to postgresql://bob:s3cr3t-pw@db/x, token=abc123")
    history.record(warehouse, [failure], secrets=["s3cr3t-pw"])
    [row] = history.read(warehouse)
    assert "s3cr3t-pw" not in row["message"] and "abc123" not in row["message"] and "***" in row["message"]
    db.close()


def test_rows_the_engine_did_not_report_are_counted(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    if dialect == "postgres":
        db.autocommit = True
    warehouse = Warehouse(db.cursor(), dialect)
    warehouse.execute("CREATE SCHEMA staging__dev")
    warehouse.execute("CREATE TABLE staging__dev.orders AS SELECT 1 AS id UNION ALL SELECT 2")
    task = TaskRun("d", "r", "t", 1, "development")
    records = [
        _model(task, "staging.orders"),
        _model(task, "staging.reported", rows=5, rows_source="engine"),
        _model(task, "staging.missing"),  # its relation does not exist: no count, no error
        _model(task, "staging.failed", "failed"),
    ]
    relations = {"staging.orders": "staging__dev.orders", "staging.missing": "staging__dev.nope"}
    counted = {r.model: (r.rows, r.rows_source) for r in count_missing_rows(warehouse, records, relations)}
    assert counted == {
        "staging.orders": (2, "count"),
        "staging.reported": (5, "engine"),
        "staging.missing": (None, None),
        "staging.failed": (None, None),
    }
    db.close()


def test_a_history_write_that_fails_is_logged_not_raised(caplog: pytest.LogCaptureFixture, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BROKEN_WAREHOUSE",
        json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 1, "schema": "x"}),
    )
    task = TaskRun("d", "r", "stage.sqlmesh.run_stage", 1, "development")
    with caplog.at_level(logging.WARNING):
        assert record_task_history("broken_warehouse", [_model(task, "m")]) is False
    assert "run history not recorded (1 rows of task stage.sqlmesh.run_stage)" in caplog.text
