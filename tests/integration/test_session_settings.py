"""Warehouse session settings from config/resources.yml reach each engine's own sessions, on
real DuckDB and PostgreSQL, and the stage tasks report what the warehouse says it has.

DuckDB: the example project with SQLMesh and dbt given different DuckDB settings, run as
a DAG runs under `dag.test()` (one process): SQLMesh plan, dbt build, then our warehouse
hook's reads, read-write and read-only. In one process DuckDB refuses to open a file again
with another configuration, so this also proves the settings never become one.
PostgreSQL: a one-model project per engine; SQLMesh's session reads `work_mem` and
`statement_timeout` back, and a dbt model materializes dbt's own `current_setting`.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.factory.dbt_tasks import _dbt_args
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.hooks.warehouse import WarehouseHook
from airflow_provider_dualengine.operators.dbt import DbtBuildOperator
from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator
from tests.warehouses import postgres_warehouse

pytestmark = pytest.mark.slow

PROBE = "select current_setting('{0}') as {0}"


class _TaskInstance:
    """What the operators use of Airflow's task instance: XCom in, XCom out."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}
        self.try_number = 1

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str) -> Any:
        return None


def _run(task: Any) -> tuple[dict, dict]:
    """The task's result and its `warehouse_session_report` XCom, after checking that its
    `warehouse_session` XCom holds the same settings."""
    ti = _TaskInstance()
    result = task.execute({"ti": ti})
    report = ti.pushed["warehouse_session_report"]
    assert ti.pushed["warehouse_session"] == report["settings"]
    return result, report


def test_duckdb_settings_reach_both_engines_and_a_dag_style_sequence_still_opens_the_file(
    project_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project_copy / "config" / "resources.yml").write_text(
        textwrap.dedent(
            """
            resource_allocation:
              sqlmesh_resources:
                development: {session: {threads: 1, memory_limit: 512MB}}
              dbt_resources:
                development: {threads: 2, session: {threads: 3, memory_limit: 256MB}}
            """
        )
    )
    (project_copy / "dbt" / "models" / "session_probe.sql").write_text(
        f"{PROBE.format('threads')}, current_setting('memory_limit') as memory_limit"
    )
    db = tmp_path / "shop.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_SESSION_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(db)}))
    monkeypatch.setenv("DUALENGINE_CACHE_DIR", str(tmp_path / "cache"))
    project = load_project(project_copy)
    env = project.environment("development")

    # SQLMesh, as the DAG factory renders it: the allocation is found from the SQLMesh project
    plan, sqlmesh_session = _run(
        SQLMeshPlanOperator(
            task_id="plan",
            project_path=str(project.sqlmesh_path),
            environment=env.sqlmesh_environment,
            gateway=env.sqlmesh_gateway,
            conn_id="session_warehouse",
            select_models=["raw.raw_customers", "raw.raw_orders", "staging.stg_orders", "staging.customer_enhanced"]
            + ["intermediate.customer_lifetime"],
            env={"DUALENGINE_DBT_SCHEMA": env.dbt_schema},
        )
    )
    assert plan["applied"] and plan["failed"] == []
    assert sqlmesh_session["read_back"] is True
    assert sqlmesh_session["settings"]["threads"] == "1"
    assert sqlmesh_session["settings"]["memory_limit"] in ("488.2 MiB", "512.0 MiB", "512MB")
    assert sqlmesh_session["configured"]["threads"] == 1

    # dbt, with the arguments the DAG factory gives its stage build
    ctx = RenderContext(project=project, environment=env)
    args = {**_dbt_args(ctx), "conn_id": "session_warehouse"}
    models = ["stg_customers", "stg_completed_orders", "customer_value", "session_probe"]
    build, dbt_session = _run(DbtBuildOperator(task_id="build_stage", models=models, **args))
    assert build["failed"] == []
    assert (
        dbt_session["read_back"] is True and dbt_session["threads"] == 1
    )  # DuckDB: one dbt thread whatever resources.yml says
    assert dbt_session["settings"]["threads"] == "3"
    assert "dbt_resources.development" in dbt_session["source"]

    # our own reads afterwards, in the same process, as later tasks of the DAG do
    hook = WarehouseHook("session_warehouse")
    with hook.session() as warehouse:
        assert warehouse.rows("SELECT threads, memory_limit FROM analytics_dev.session_probe") == [
            (3, "244.1 MiB")
        ]  # dbt's own session had dbt's settings
        assert warehouse.row_count("analytics_dev", "customer_value") > 0
    with hook.session(read_only=True) as warehouse:
        assert warehouse.table_exists("analytics_dev", "session_probe")

    # and SQLMesh again after dbt: its settings are set again on its session
    _, again = _run(
        SQLMeshPlanOperator(
            task_id="plan_again",
            project_path=str(project.sqlmesh_path),
            environment=env.sqlmesh_environment,
            gateway=env.sqlmesh_gateway,
            conn_id="session_warehouse",
            select_models=["raw.raw_customers"],
        )
    )
    assert again["settings"]["threads"] == "1"


def _tiny_postgres_project(root: Path) -> Path:
    files = {
        "dualengine.yml": """
            name: tiny
            warehouse: {conn_id: session_pg, type: postgres}
            sqlmesh: {path: sqlmesh, gateway: local}
            dbt: {path: dbt, profile: tiny}
            default_environment: development
            """,
        "config/dependency_graph.yml": """
            dependency_graph:
              build: {engine: sqlmesh, models: [tiny.numbers]}
              probe: {engine: dbt, models: [session_probe], depends_on: [build]}
            """,
        "config/dual_engine_environments.yml": """
            environments:
              development:
                sqlmesh: {environment_suffix: _dev}
                dbt: {target: dev}
            """,
        "config/resources.yml": """
            resource_allocation:
              sqlmesh_resources:
                development: {concurrent_tasks: 2, session: {work_mem: 7MB, statement_timeout: 45s}}
              dbt_resources:
                development: {threads: 2, session: {work_mem: 9MB, statement_timeout: 50s}}
            """,
        "sqlmesh/config.yaml": """
            gateways:
              local:
                connection: {type: duckdb}
            default_gateway: local
            model_defaults: {dialect: postgres}
            """,
        "sqlmesh/models/numbers.sql": """
            MODEL (name tiny.numbers, kind FULL);
            SELECT 1 AS n
            """,
        "dbt/dbt_project.yml": """
            name: tiny
            version: '1.0'
            profile: tiny
            models:
              tiny:
                +materialized: table
            """,
        "dbt/models/session_probe.sql": "select current_setting('work_mem') as w, current_setting('statement_timeout') as t",
        # what `dualengine compile` leaves for the dbt plugin; no dbt model here refs a SQLMesh model
        "target/dualengine.json": '{"sqlmesh": {"models": {}}}',
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def test_postgres_settings_reach_sqlmesh_and_dbt_sessions(
    postgres_database: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg2

    from airflow_provider_dualengine.engines.session_settings import libpq_options

    server, dbname = postgres_database
    connection = postgres_warehouse(server, dbname).connection
    monkeypatch.setenv("AIRFLOW_CONN_SESSION_PG", json.dumps(connection))
    monkeypatch.setenv("DUALENGINE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("PGOPTIONS", raising=False)
    project = load_project(_tiny_postgres_project(tmp_path / "tiny"))
    env = project.environment("development")

    plan, sqlmesh_session = _run(
        SQLMeshPlanOperator(
            task_id="plan",
            project_path=str(project.sqlmesh_path),
            environment=env.sqlmesh_environment,
            conn_id="session_pg",
        )
    )
    assert plan["applied"] and plan["failed"] == []
    assert sqlmesh_session["read_back"] is True and sqlmesh_session["concurrent_tasks"] == 2
    assert sqlmesh_session["settings"] == {"work_mem": "7MB", "statement_timeout": "45s"}
    assert "PGOPTIONS" not in os.environ  # set for SQLMesh's block only

    ctx = RenderContext(project=project, environment=env)
    build, dbt_session = _run(DbtBuildOperator(task_id="build_stage", models=["session_probe"], **_dbt_args(ctx)))
    assert build["failed"] == []
    # dbt's sessions end with dbt: the task reports what it configured ...
    assert dbt_session["read_back"] is False and dbt_session["threads"] == 2
    assert dbt_session["settings"] == {"work_mem": "9MB", "statement_timeout": "50s"}
    assert "PGOPTIONS" not in os.environ
    with WarehouseHook("session_pg").session() as warehouse:
        # ... and the model dbt built in its own session proves it had them
        assert warehouse.rows("SELECT w, t FROM analytics_dev.session_probe") == [("9MB", "50s")]
        # our own sessions keep the server's defaults
        warehouse.execute("SELECT current_setting('work_mem')")
        assert warehouse.fetchone()[0] == "4MB"

    # a value with a space survives libpq's option splitting
    with (
        psycopg2.connect(
            host=server.host,
            port=server.port,
            user=server.user,
            password=server.password,
            dbname=dbname,
            options=libpq_options({"work_mem": "11 MB"}),
        ) as db,
        db.cursor() as cursor,
    ):
        cursor.execute("SELECT current_setting('work_mem')")
        assert cursor.fetchone()[0] == "11MB"
