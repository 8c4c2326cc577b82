"""Deployment records in the db_connect, on real DuckDB and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dualengine.deployments import records
from airflow_provider_dualengine.deployments.records import DeploymentRecordError
from airflow_provider_dualengine.hooks.warehouse import Warehouse

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _deploy(
    warehouse: Warehouse, deployment_id: str, environment: str, status: str, stages: list[tuple[str, str]]
) -> None:
    records.start(warehouse, deployment_id, environment, "alice", f"plan-{deployment_id}", f"manifest-{deployment_id}")
    for i, (stage, outcome) in enumerate(stages):
        records.record_stage(
            warehouse,
            deployment_id,
            stage,
            outcome,
            T0 + timedelta(minutes=i),
            T0 + timedelta(minutes=i, seconds=30),
            message=f"{stage} {outcome}",
        )
    records.finish(warehouse, deployment_id, status)


def test_deployments_are_recorded_listed_and_persist(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    warehouse = Warehouse(db.cursor(), dialect)
    _deploy(
        warehouse,
        "d1",
        "prod",
        "succeeded",
        [("sqlmesh_plan", "succeeded"), ("dbt_build", "succeeded"), ("switch", "succeeded")],
    )
    _deploy(warehouse, "d2", "prod", "failed", [("sqlmesh_plan", "succeeded"), ("dbt_build", "failed")])
    _deploy(warehouse, "d3", "dev", "succeeded", [("sqlmesh_plan", "succeeded")])
    records.start(warehouse, "d4", "prod", "bob", None, None)  # still running when the process dies
    db.close()

    other = connect()  # a new connection: everything was committed
    try:
        listed = records.list_deployments(Warehouse(other.cursor(), dialect))
        assert [d["id"] for d in listed] == ["d4", "d3", "d2", "d1"]
        assert [d["status"] for d in listed] == ["running", "succeeded", "failed", "succeeded"]
        d1 = listed[-1]
        assert (d1["environment"], d1["triggered_by"], d1["sqlmesh_version"], d1["dbt_version"]) == (
            "prod",
            "alice",
            "plan-d1",
            "manifest-d1",
        )
        assert [s["stage"] for s in d1["stages"]] == ["sqlmesh_plan", "dbt_build", "switch"]
        assert d1["stages"][1] == {
            "stage": "dbt_build",
            "outcome": "succeeded",
            "started_at": "2025-01-02T03:05:05+00:00",
            "finished_at": "2025-01-02T03:05:35+00:00",
            "message": "dbt_build succeeded",
        }
        assert d1["started_at"].tzinfo is not None and d1["finished_at"] >= d1["started_at"]
        assert listed[0]["finished_at"] is None and listed[0]["stages"] == []
        assert listed[2]["stages"][-1]["outcome"] == "failed"
        assert [d["id"] for d in records.list_deployments(Warehouse(other.cursor(), dialect), limit=2)] == ["d4", "d3"]

        assert records.last_succeeded(Warehouse(other.cursor(), dialect), "prod")["id"] == "d1"
        assert records.last_succeeded(Warehouse(other.cursor(), dialect), "dev")["id"] == "d3"
        assert records.last_succeeded(Warehouse(other.cursor(), dialect), "staging") is None
    finally:
        other.close()


def test_bad_writes_are_refused_and_leave_the_connection_usable(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    try:
        warehouse = Warehouse(db.cursor(), dialect)
        records.start(warehouse, "d1", "prod", "alice", None, None)
        with pytest.raises(Exception):  # noqa: B017 (driver-specific unique-key error)
            records.start(warehouse, "d1", "prod", "alice", None, None)  # duplicate id
        with pytest.raises(DeploymentRecordError):
            records.record_stage(warehouse, "nope", "dbt_build", "failed", T0, T0)
        with pytest.raises(DeploymentRecordError):
            records.finish(warehouse, "nope", "failed")
        with pytest.raises(DeploymentRecordError):
            records.finish(warehouse, "d1", "running")
        records.finish(warehouse, "d1", "rolled_back")
        assert [d["status"] for d in records.list_deployments(warehouse)] == ["rolled_back"]
    finally:
        db.close()


def test_details_merge_and_running_deployments_are_found(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    db = connect()
    warehouse = Warehouse(db.cursor(), dialect)
    records.start(warehouse, "d1", "prod", "alice", None, None)
    records.update(warehouse, "d1", dbt_slot="analytics__blue", checksums_before={'"a"."b"': [3, "77"]})
    records.update(warehouse, "d1", promotion_seconds=0.012, dbt_version="analytics__blue")
    records.start(warehouse, "d2", "dev", "bob", None, None)
    assert [r["id"] for r in records.running(warehouse, "prod")] == ["d1"]
    records.finish(warehouse, "d1", "interrupted", "process stopped during production_promotion; prod unchanged")
    db.close()

    other = connect()
    try:
        d1 = records.get(Warehouse(other.cursor(), dialect), "d1")
        assert d1["details"] == {
            "dbt_slot": "analytics__blue",
            "checksums_before": {'"a"."b"': [3, "77"]},
            "promotion_seconds": 0.012,
            "summary": "process stopped during production_promotion; prod unchanged",
        }
        assert (d1["status"], d1["dbt_version"]) == ("interrupted", "analytics__blue")
        assert records.running(Warehouse(other.cursor(), dialect), "prod") == []
        with pytest.raises(DeploymentRecordError, match="no deployment 'nope'"):
            records.update(Warehouse(other.cursor(), dialect), "nope", x=1)
    finally:
        other.close()


def test_the_writer_redacts_every_text_but_leaves_engine_names_alone(db_connect: tuple[str, Callable[[], Any]]) -> None:
    dialect, connect = db_connect
    secret = 'pa"ss:w@rd/1'
    db = connect()
    try:
        writer = records.RecordWriter(Warehouse(db.cursor(), dialect), [secret])
        writer.start("d1", "prod", f"cli:{secret}", None, None)
        writer.stage(
            "d1",
            "promotion",
            "failed",
            T0,
            T0,
            f"connection to postgresql://u:{secret}@h/db refused; dsn: password={secret}",
        )
        writer.update("d1", integration=[{"message": f"saw {secret!r}"}], before={"dbt_relations": [secret]})
        assert writer.finish("d1", "failed", f"blocked: {secret}") == "blocked: ***"
        cursor = db.cursor()
        cursor.execute("SELECT triggered_by, stages, details FROM dualengine.deployments")
        triggered_by, stages, details = cursor.fetchone()
        assert (
            triggered_by == "cli:***"
            and json.loads(stages)[0]["message"] == "connection to postgresql://u:***@h/db refused; dsn: password=***"
        )
        assert json.loads(details) == {
            "integration": [{"message": "saw '***'"}],
            "before": {"dbt_relations": [secret]},
            "summary": "blocked: ***",
        }
    finally:
        db.close()
