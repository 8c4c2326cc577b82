"""Engine outcomes -> run history records (monitoring/engine_records.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_dualengine.monitoring.engine_records import TaskRun, dbt_records, sqlmesh_records

TASK = TaskRun("shop", "manual__1", "stage_1.sqlmesh.run_stage", 2, "development")


def test_sqlmesh_outcomes_keep_times_audits_rows_and_errors() -> None:
    models = {
        "staging.orders": {
            "status": "success",
            "intervals": 2,
            "duration_ms": 1500,
            "audits_passed": 3,
            "audits_failed": 0,
            "error": None,
            "started_at": 1_765_000_000.0,
            "finished_at": 1_765_000_002.0,
            "rows": 40,
            "bytes": 1024,
        },
        "staging.broken": {
            "status": "failed",
            "intervals": 0,
            "error": "ParserError: bad",
            "started_at": 1_765_000_000.0,
            "finished_at": None,
        },
    }
    orders, broken = sorted(sqlmesh_records(TASK, models), key=lambda r: r.model, reverse=True)
    assert (orders.model, orders.status, orders.duration_s, orders.rows, orders.rows_source, orders.bytes) == (
        "staging.orders",
        "success",
        1.5,  # SQLMesh's own evaluation time, not the wall time around it
        40,
        "engine",
        1024,
    )
    assert (orders.tests_passed, orders.try_number, orders.environment) == (3, 2, "development")
    assert orders.started_at == datetime.fromtimestamp(1_765_000_000.0, UTC)
    assert (broken.status, broken.message, broken.duration_s, broken.rows) == ("failed", "ParserError: bad", None, None)


def test_dbt_outcomes_keep_dbt_timing_rows_and_failed_tests() -> None:
    models = {
        "customer_value": {
            "status": "tests_failed",
            "message": "SUCCESS 33",
            "execution_s": 0.42,
            "rows_affected": 33,
            "bytes_processed": 4096,  # e.g. BigQuery's adapter reports it
            "started_at": "2026-12-07T10:00:00.000001Z",
            "completed_at": "2026-12-07T10:00:00.420000Z",
            "tests_passed": 4,
            "tests_failed": [{"test": "unique_customer_value_customer_id", "message": "Got 2 results"}],
        },
        "stg": {"status": "success", "execution_s": 0.1, "rows_affected": -1, "tests_passed": 1, "tests_failed": []},
        "late": {"status": "skipped", "execution_s": 0.0, "tests_failed": []},
    }
    by_model = {r.model: r for r in dbt_records(TASK, models)}
    value = by_model["customer_value"]
    assert (value.status, value.rows, value.bytes, value.tests_passed, value.tests_failed) == ("failed", 33, 4096, 4, 1)
    assert value.message == "unique_customer_value_customer_id: Got 2 results"
    assert value.ended_at == datetime(2026, 12, 7, 10, 0, 0, 420000, tzinfo=UTC)
    assert (by_model["stg"].rows, by_model["stg"].rows_source) == (None, None)  # -1: the adapter did not say
    assert by_model["late"].status == "skipped"
