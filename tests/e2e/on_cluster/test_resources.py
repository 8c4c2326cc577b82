"""Resource management on the package's real cluster (scheduler, triggerer, Celery worker,
PostgreSQL warehouse): `dualengine resources apply` through the REST API, and an execution
window switching in the middle of a run.

The clock is controlled by placing the window boundary B about a minute after the run
starts (windows take seconds: "18:04:30-18:14:30"). In the first window SQLMesh has
priority and dbt is maintenance_only (an asset-triggered run's dbt work waits); from B
dbt has priority and 3 of the warehouse's 4 slots. What the test asserts is measured
from the task instances' start and end times, the pools and the XComs Airflow reports.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from tests.cluster import AirflowCluster
from tests.cluster.airflow_cluster import ADMIN_USER
from tests.e2e.on_cluster.conftest import (
    WINDOWS_CONN_ID,
    WINDOWS_DAG,
    WINDOWS_PROJECT,
    WINDOWS_TRIGGER,
    ensure_postgres_connection,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

API_CONN = "dualengine_airflow_api"
RESOURCES_DAG = f"dualengine_{WINDOWS_PROJECT}_resources"
SQLMESH_POOL = f"dualengine_{WINDOWS_PROJECT}_development_sqlmesh"
DBT_POOL = f"dualengine_{WINDOWS_PROJECT}_development_dbt"


def _hms(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S")


def resources_yml(before: datetime, boundary: datetime, after: datetime) -> str:
    """Three windows covering the day (UTC): `first` until `boundary`, `second` until `after`, `rest`."""
    return f"""
resource_allocation:
  sqlmesh_resources:
    development: {{max_concurrent_queries: 2, concurrent_tasks: 2, session: {{work_mem: 7MB, statement_timeout: 45s}}}}
  dbt_resources:
    development: {{threads: 2, session: {{work_mem: 9MB}}}}
  shared_resources:
    warehouse: {{used_by: [sqlmesh, dbt], scheduling: coordinated, max_concurrent_queries: 4}}
execution_schedule:
  timezone: UTC
  first_hours: "{_hms(before)}-{_hms(boundary)}"
  second_hours: "{_hms(boundary)}-{_hms(after)}"
  rest_hours: "{_hms(after)}-{_hms(before)}"
  scheduling_rules:
    first_hours: {{priority: sqlmesh_models, dbt_execution: maintenance_only, resource_allocation: "75% sqlmesh, 25% dbt"}}
    second_hours: {{priority: dbt_models, sqlmesh_execution: limited, resource_allocation: "25% sqlmesh, 75% dbt"}}
    rest_hours: {{priority: sqlmesh_models, dbt_execution: maintenance_only, resource_allocation: "75% sqlmesh, 25% dbt"}}
"""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _task_instances(cluster: AirflowCluster, dag_id: str, run_id: str) -> list[dict]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
    return cluster.api("GET", path, params={"limit": 1000})["task_instances"]


def _max_at_once(tis: list[dict]) -> int:
    """The most task instances running at the same moment (from start/end times)."""
    edges = sorted(
        [(_time(t["start_date"]), 1) for t in tis if t["start_date"]]
        + [(_time(t["end_date"]), -1) for t in tis if t["end_date"]],
        key=lambda e: (e[0], e[1]),
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _pools(cluster: AirflowCluster) -> dict[str, int]:
    return {p["name"]: p["slots"] for p in cluster.api("GET", "/api/v2/pools", params={"limit": 1000})["pools"]}


def _wait(cluster: AirflowCluster, what: str, check, timeout: float = 180):
    import time

    deadline = time.monotonic() + timeout
    while True:
        cluster.check_components()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(1)


@pytest.fixture(scope="module")
def windows_run(cluster: AirflowCluster) -> dict:
    """resources.yml written with B ~45 s ahead, applied by the CLI, the pipeline triggered
    by an Asset event (an asset-triggered run), and the run waited for."""
    ensure_postgres_connection(cluster, WINDOWS_CONN_ID, WINDOWS_PROJECT)
    project = cluster.base / "transforms_win"
    if not any(c["connection_id"] == API_CONN for c in cluster.api("GET", "/api/v2/connections")["connections"]):
        cluster.create_connection(
            {
                "connection_id": API_CONN,
                "conn_type": "http",
                "host": f"http://127.0.0.1:{cluster.api_port}",
                "login": ADMIN_USER,
                "password": cluster.password,
            }
        )
    with cluster.timed("resources: the windows project's DAGs parsed"):
        cluster.wait_for_dag(WINDOWS_DAG)
        cluster.wait_for_dag(RESOURCES_DAG)
    now = datetime.now(UTC).replace(microsecond=0)
    # B: after the run's first stage (~20 s after the trigger here), before its end
    boundary = now + timedelta(seconds=45)
    (project / "config" / "resources.yml").write_text(
        resources_yml(now - timedelta(hours=1), boundary, boundary + timedelta(minutes=20))
    )

    with cluster.timed("resources: dualengine resources apply (CLI -> REST API)"):
        applied = subprocess.run(
            [
                str(cluster.venv.bin / "dualengine"),
                "resources",
                "apply",
                str(project),
                "--api-url",
                f"http://127.0.0.1:{cluster.api_port}",
                "--username",
                ADMIN_USER,
            ],
            env={**cluster.env, "DUALENGINE_API_PASSWORD": cluster.password, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=120,
        )
    pools_after_apply = _pools(cluster)

    with cluster.timed("resources: DAGs parsed with the new windows, run triggered by an Asset event"):
        _wait(
            cluster,
            "the resources DAG scheduled at B",
            lambda: (cluster.api("GET", f"/api/v2/dags/{RESOURCES_DAG}").get("next_dagrun_run_after") or "").startswith(
                boundary.strftime("%Y-%m-%dT%H:%M:%S")
            ),
            timeout=60,
        )
        cluster.unpause(RESOURCES_DAG)
        cluster.unpause(WINDOWS_DAG)
        assets = cluster.api("GET", "/api/v2/assets", params={"uri_pattern": WINDOWS_TRIGGER})["assets"]
        cluster.api("POST", "/api/v2/assets/events", {"asset_id": assets[0]["id"]})
        run = _wait(
            cluster,
            "an asset-triggered run",
            lambda: next(iter(cluster.api("GET", f"/api/v2/dags/{WINDOWS_DAG}/dagRuns")["dag_runs"]), None),
            timeout=60,
        )
    with cluster.timed("resources: the run across the window switch"):
        result = cluster.wait_for_run(WINDOWS_DAG, run["dag_run_id"], timeout=600)
    resource_runs = cluster.api("GET", f"/api/v2/dags/{RESOURCES_DAG}/dagRuns")["dag_runs"]
    return {
        "boundary": boundary,
        "applied": applied,
        "pools_after_apply": pools_after_apply,
        "pools_after_boundary": _pools(cluster),
        "run": run,
        "result": result,
        "tis": _task_instances(cluster, WINDOWS_DAG, run["dag_run_id"]),
        "resource_runs": resource_runs,
    }


def test_resources_apply_creates_the_pools_through_the_rest_api(windows_run: dict) -> None:
    applied = windows_run["applied"]
    assert applied.returncode == 0, applied.stderr[-3000:]
    # first window: 75% / 25% of the shared warehouse's 4 slots
    assert f"{SQLMESH_POOL}: 3 slots - created" in applied.stdout, applied.stdout
    assert f"{DBT_POOL}: 1 slots - created" in applied.stdout, applied.stdout
    assert windows_run["pools_after_apply"][SQLMESH_POOL] == 3
    assert windows_run["pools_after_apply"][DBT_POOL] == 1


def test_the_window_switch_changes_which_engine_runs_and_how_many_at_once(windows_run: dict) -> None:
    result, tis, boundary = windows_run["result"], windows_run["tis"], windows_run["boundary"]
    assert windows_run["run"]["run_type"] == "asset_triggered"
    assert result.state == "success", result.summary()
    by_id = {t["task_id"]: t for t in tis}
    dbt_builds = [t for t in tis if t["operator"] == "DbtBuildOperator"]
    sqlmesh_execs = [t for t in tis if t["operator"] in ("SQLMeshPlanOperator", "SQLMeshRunOperator")]
    assert len(dbt_builds) == 1 and len(sqlmesh_execs) == 2, sorted(by_id)  # stages 1 and 2 of the example
    # engine tasks in their engine pools, everything else not
    assert {t["pool"] for t in dbt_builds} == {DBT_POOL}
    assert {t["pool"] for t in sqlmesh_execs} == {SQLMESH_POOL}

    # before B only SQLMesh ran: no dbt build started before the boundary; the stage that
    # has both engines ran its SQLMesh part first
    assert min(_time(t["start_date"]) for t in dbt_builds) >= boundary, [
        (t["task_id"], t["start_date"]) for t in dbt_builds
    ]
    assert _time(by_id["stage_2_mixed.sqlmesh.run_stage"]["start_date"]) < boundary
    # engine tasks running at once, from start/end times: before B SQLMesh ran (stages 1 and 2)
    # and no dbt; after B the held dbt work ran
    before = [t for t in sqlmesh_execs + dbt_builds if _time(t["start_date"]) < boundary]
    assert {t["task_id"] for t in before} == {"stage_1_sqlmesh.sqlmesh.run_stage", "stage_2_mixed.sqlmesh.run_stage"}
    assert _max_at_once([t for t in before if t in dbt_builds]) == 0 < _max_at_once(before)
    after = [t for t in dbt_builds if _time(t["start_date"]) >= boundary]
    assert len(after) == 1 and _max_at_once(after) == 1
    # the gate deferred (no worker held) from stage 1's end until B, then let dbt start
    gate = by_id["stage_2_mixed.dbt.window_gate"]
    assert _time(gate["start_date"]) < boundary <= _time(gate["end_date"])
    assert _time(by_id["stage_2_mixed.dbt.build_stage"]["start_date"]) >= _time(gate["end_date"])
    # the weights the scheduler computed when it created the run (first window: SQLMesh's priority)
    assert (
        len({t["priority_weight"] for t in sqlmesh_execs}) == 1 and len({t["priority_weight"] for t in dbt_builds}) == 1
    )
    assert sqlmesh_execs[0]["priority_weight"] == dbt_builds[0]["priority_weight"] + 100


def test_the_resources_dag_resized_the_pools_at_the_boundary(windows_run: dict) -> None:
    boundary = windows_run["boundary"]
    scheduled = [r for r in windows_run["resource_runs"] if r["run_type"] == "scheduled"]
    assert scheduled, windows_run["resource_runs"]
    first = min(scheduled, key=lambda r: r["run_after"])
    assert first["state"] == "success"
    assert abs((_time(first["run_after"]) - boundary).total_seconds()) < 1
    assert windows_run["pools_after_boundary"][SQLMESH_POOL] == 1
    assert windows_run["pools_after_boundary"][DBT_POOL] == 3


def test_session_settings_reach_the_warehouse_sessions(cluster: AirflowCluster, windows_run: dict) -> None:
    run_id = windows_run["run"]["dag_run_id"]
    sqlmesh_exec = next(t for t in windows_run["tis"] if t["operator"] in ("SQLMeshPlanOperator", "SQLMeshRunOperator"))
    entry = cluster.api(
        "GET",
        f"/api/v2/dags/{WINDOWS_DAG}/dagRuns/{run_id}/taskInstances/{sqlmesh_exec['task_id']}/xcomEntries/warehouse_session",
    )
    value = entry["value"]
    assert value["work_mem"] == "7MB" and value["statement_timeout"] == "45s", value
