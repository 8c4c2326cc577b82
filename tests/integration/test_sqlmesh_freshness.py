"""The SQLMesh freshness check, trigger and sensor against real SQLMesh state in a DuckDB file.

One tiny project (a daily FULL model) is planned into `dev` once; every test reads that
state the way the sensor does in production: through the Airflow connection, without
loading the project.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred  # noqa: E402

from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook  # noqa: E402
from airflow_provider_dualengine.sensors.sqlmesh_freshness import SQLMeshModelFreshSensor, SQLMeshModelNotFresh  # noqa: E402
from airflow_provider_dualengine.triggers.sqlmesh_freshness import SQLMeshModelFreshTrigger  # noqa: E402

pytestmark = pytest.mark.slow

MODEL = "shop.orders"


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project planned into `dev`: its path, its DuckDB file (warehouse and state), the plan time."""
    import sqlmesh

    root = tmp_path_factory.mktemp("freshness")
    project, db = root / "project", root / "shop.duckdb"
    (project / "models").mkdir(parents=True)
    (project / "config.yaml").write_text(
        textwrap.dedent(f"""\
            gateways:
              local:
                connection:
                  type: duckdb
                  database: {db}
            default_gateway: local
            model_defaults:
              dialect: duckdb
            """)
    )
    (project / "models" / "orders.sql").write_text(
        f"MODEL (name {MODEL}, kind FULL, cron '@daily', start '2024-01-01');\nSELECT 1 AS order_id\n"
    )
    planned_at = datetime.now(UTC)
    ctx = sqlmesh.Context(paths=[project])
    try:
        ctx.plan("dev", auto_apply=True, no_prompts=True)
    finally:
        ctx.close()
    return {"project": str(project), "db": db, "planned_at": planned_at}


@pytest.fixture
def state(planned: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The planned project, its DuckDB file exposed as the `dualengine_warehouse` connection."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(planned["db"])})
    )
    return planned


def _check(state: dict[str, Any], target: datetime | str, model: str = MODEL, environment: str = "dev"):
    return SQLMeshHook(state["project"], conn_id="dualengine_warehouse").model_freshness(model, environment, target)


def _first_event(trigger: SQLMeshModelFreshTrigger) -> dict[str, Any]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first())


def _trigger(state: dict[str, Any], target: datetime, **kwargs: Any) -> SQLMeshModelFreshTrigger:
    return SQLMeshModelFreshTrigger(
        project_path=state["project"], model=MODEL, environment="dev", target=target.isoformat(), **kwargs
    )


def _sensor(state: dict[str, Any], **kwargs: Any) -> SQLMeshModelFreshSensor:
    return SQLMeshModelFreshSensor(
        task_id="wait_for_orders", model=MODEL, environment="dev", project_path=state["project"], **kwargs
    )


# -- the synchronous check -------------------------------------------------------------


def test_model_is_ready_up_to_the_last_full_interval(state) -> None:
    result = _check(state, state["planned_at"])
    assert result.present and result.ready, result.reason
    assert result.complete_until == _midnight(state["planned_at"])
    assert result.snapshot and result.snapshot.endswith('"shop"."orders"')
    assert _check(state, state["planned_at"] - timedelta(days=1)).ready


def test_a_target_days_ahead_is_not_ready_and_says_what_is_complete(state) -> None:
    result = _check(state, state["planned_at"] + timedelta(days=3))
    done = _midnight(state["planned_at"])
    assert result.present and not result.ready
    assert result.complete_until == done
    assert f"complete until {done.isoformat()}" in result.reason
    assert f"needed until {(done + timedelta(days=3)).isoformat()}" in result.reason


def test_environment_names_are_matched_as_sqlmesh_stores_them(state) -> None:
    assert _check(state, state["planned_at"], environment="DEV").ready
    assert _check(state, state["planned_at"], model="SHOP.Orders").ready


def test_unknown_model_is_not_present(state) -> None:
    result = _check(state, state["planned_at"], model="shop.returns")
    assert (result.present, result.ready) == (False, False)
    assert result.reason == "model 'shop.returns' is not in environment 'dev'"


def test_unknown_environment_is_not_present(state) -> None:
    result = _check(state, state["planned_at"], environment="qa")
    assert (result.present, result.ready) == (False, False)
    assert result.reason == "environment 'qa' does not exist in SQLMesh state"


def test_a_state_file_locked_by_another_process_means_not_ready(state) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; con = duckdb.connect({str(state['db'])!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _check(state, state["planned_at"])
        assert _sensor(state, target_time=state["planned_at"]).poke({}) is False
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert (result.present, result.ready) == (False, False)
    assert "locked by a writer" in result.reason
    assert _check(state, state["planned_at"]).ready  # released: readable again


def test_a_read_write_connection_in_this_process_is_shared(state) -> None:
    """Tasks under dag.test share a process: DuckDB refuses a second, read-only, configuration."""
    with duckdb.connect(str(state["db"])):
        assert _check(state, state["planned_at"]).ready


def test_a_missing_state_database_is_not_ready(state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "never_planned.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(missing)}))
    result = _check(state, state["planned_at"])
    assert not result.ready and "does not exist yet" in result.reason
    assert not missing.exists()  # read-only: the check never creates a database


# -- the trigger -----------------------------------------------------------------------


def test_trigger_serializes_and_round_trips(state) -> None:
    trigger = _trigger(state, state["planned_at"], gateway="local", poke_interval=5, timeout=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dualengine.triggers.sqlmesh_freshness.SQLMeshModelFreshTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["target"] == state["planned_at"].isoformat() and kwargs["conn_id"] == "dualengine_warehouse"
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_trigger_fires_ready(state) -> None:
    event = _first_event(_trigger(state, state["planned_at"], poke_interval=0.1, timeout=5))
    assert event["status"] == "ready" and event["complete_until"] == _midnight(state["planned_at"]).isoformat()


def test_trigger_times_out_with_the_last_check(state) -> None:
    event = _first_event(_trigger(state, state["planned_at"] + timedelta(days=3), poke_interval=0.2, timeout=0.5))
    assert event["status"] == "timeout" and event["present"] is True
    assert event["complete_until"] == _midnight(state["planned_at"]).isoformat()


def test_trigger_reports_a_broken_setup_as_error(state, tmp_path: Path) -> None:
    trigger = SQLMeshModelFreshTrigger(
        project_path=str(tmp_path / "no_project"),
        model=MODEL,
        environment="dev",
        target=state["planned_at"].isoformat(),
        timeout=5,
    )
    event = _first_event(trigger)
    assert event["status"] == "error" and event["reason"]


# -- the sensor ------------------------------------------------------------------------


def test_sensor_pokes_true_then_false(state) -> None:
    assert _sensor(state, target_time=state["planned_at"].isoformat()).poke({}) is True
    assert _sensor(state, target_time=(state["planned_at"] + timedelta(days=3)).isoformat()).poke({}) is False


def test_sensor_target_defaults_to_the_data_interval_end(state) -> None:
    sensor = _sensor(state)
    assert sensor.poke({"data_interval_end": state["planned_at"] - timedelta(days=1)}) is True
    assert sensor.poke({"data_interval_end": state["planned_at"] + timedelta(days=3)}) is False
    assert {"model", "environment", "target_time"} <= set(sensor.template_fields)


def test_deferrable_sensor_returns_at_once_when_ready(state) -> None:
    assert _sensor(state, target_time=state["planned_at"]).execute({}) is None


def test_deferrable_sensor_defers_to_the_trigger_when_not_ready(state) -> None:
    target = state["planned_at"] + timedelta(days=3)
    with pytest.raises(TaskDeferred) as deferred:
        _sensor(state, poke_interval=30, timeout=600).execute({"data_interval_end": target})
    assert deferred.value.method_name == "execute_complete"
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["target"] == target.isoformat() and kwargs["environment"] == "dev"
    assert (kwargs["poke_interval"], kwargs["timeout"]) == (30, 600)


def test_execute_complete_explains_a_timeout_and_an_error(state) -> None:
    sensor = _sensor(state, timeout=60)
    event = _first_event(_trigger(state, state["planned_at"] + timedelta(days=3), poke_interval=0.1, timeout=0))
    with pytest.raises(
        AirflowSensorTimeout, match=r"shop\.orders in environment 'dev' was not complete .* \(complete until \d{4}-"
    ):
        sensor.execute_complete({}, event)
    with pytest.raises(SQLMeshModelNotFresh, match="freshness check failed: boom"):
        sensor.execute_complete({}, {"status": "error", "model": MODEL, "environment": "dev", "reason": "boom"})
    assert sensor.execute_complete({}, {"status": "ready", "reason": "ok"}) is None
