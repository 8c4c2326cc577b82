"""Model-level scheduling under a real executor: a dbt model starts as soon as the SQLMesh
model it reads is ready, while an unrelated, slow SQLMesh branch of the previous stage is
still running (PostgreSQL warehouse: several writers at once)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tests.conftest import TEST_DAGS_FOLDER
from tests.parallel_airflow import executor_environment, run_with_executor
from tests.warehouses import postgres_warehouse

SLOW_MODEL = """
import os
import time
import typing as t
from datetime import datetime

import pandas as pd
from sqlmesh import ExecutionContext, model


@model("staging.slow_events", kind="FULL", cron="@daily", columns={"event_id": "int", "slept_seconds": "int"})
def execute(context: ExecutionContext, start: datetime, end: datetime, execution_time: datetime, **kwargs: t.Any) -> pd.DataFrame:
    seconds = int(os.environ.get("SLOW_EVENTS_SECONDS", "0"))
    time.sleep(seconds)
    return pd.DataFrame({"event_id": [1], "slept_seconds": [seconds]})
"""

SLOW_SECONDS = 30


@pytest.fixture
def shop_with_slow_branch(
    project_copy: Path, metadata_db: Path, postgres_database, monkeypatch: pytest.MonkeyPatch
) -> Path:
    from airflow_provider_dualengine.cli.local_airflow import ensure_pool
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    server, dbname = postgres_database
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", postgres_warehouse(server, dbname).env_json())
    ensure_pool("dualengine_warehouse")
    settings = project_copy / "dualengine.yml"
    settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    (project_copy / "sqlmesh" / "models" / "shared" / "slow_events.py").write_text(SLOW_MODEL)
    graph_file = project_copy / "config" / "dependency_graph.yml"
    graph_file.write_text(
        graph_file.read_text().replace("staging.customer_enhanced]", "staging.customer_enhanced, staging.slow_events]")
    )
    compile_project(load_project(project_copy))
    return project_copy


@pytest.mark.e2e
@pytest.mark.slow
def test_dbt_model_starts_before_an_unrelated_sqlmesh_branch_finishes(
    shop_with_slow_branch: Path, scenario_dag
) -> None:
    project = shop_with_slow_branch
    # 1. build prod once (serial dag.test); the slow model does not sleep here
    run = scenario_dag(
        "overlap_setup",
        f"from airflow_provider_dualengine import ProjectConfig, build_dag\ndag = build_dag(ProjectConfig({str(project)!r}, environment='production'), dag_id='overlap_setup')\n",
    )
    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    # 2. the next day's cron run, model-level, with a parallel executor
    tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).isoformat()
    dag_file = TEST_DAGS_FOLDER / "overlap_run.py"
    dag_file.write_text(
        "# airflow dag file written by a test\nfrom airflow_provider_dualengine import ExecutionConfig, ProjectConfig, RenderConfig, build_dag\n"
        f"dag = build_dag(ProjectConfig({str(project)!r}, environment='production'), dag_id='overlap_run',"
        " render_config=RenderConfig(model_level_dependencies=True),"
        f" execution_config=ExecutionConfig(sqlmesh_action='run', sqlmesh_operator_args={{'execution_time': {tomorrow!r}}}))\n"
    )
    try:
        with executor_environment() as env:
            result = run_with_executor(
                env, dag_file, "overlap_run", extra_env={"SLOW_EVENTS_SECONDS": str(SLOW_SECONDS)}
            )
    finally:
        dag_file.unlink(missing_ok=True)
    tasks = result["tasks"]
    assert result["state"] == "success", {t: v["state"] for t, v in tasks.items()}

    slow_run = tasks["stage_1_sqlmesh.sqlmesh.run__staging__slow_events"]  # its own engine run
    scored = tasks["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"]
    dbt_reader = tasks["stage_2_mixed.dbt.build__stg_customers"]  # its one model reads staging.customer_enhanced only
    assert slow_run["end"] - slow_run["start"] >= SLOW_SECONDS  # it really ran the slow model
    assert dbt_reader["start"] >= scored["end"]  # waited for what it reads ...
    assert dbt_reader["start"] < slow_run["end"]  # ... and not for the unrelated slow branch
    assert tasks["stage_1_sqlmesh.done"]["end"] >= slow_run["end"]
