"""Airflow retries a dbt model that met a DuckDB lock, and fails a broken one after one try.

A real `dag.test()` run of a DAG made by our `new_dag` (so with its default retries; the
delay is cut to 1 s) on a real DuckDB file: one `dbt build` of two models, each reported by
its own task. One model reads a second DuckDB file through ATTACH while another process
holds that file's write lock, so dbt records DuckDB's real "Could not set lock" error for
it; the other model has a SQL error. The locked model's task is retried (its retry callback
lets the other process go) and its second try rebuilds the model alone; the broken model's
task fails at once, on its first try.

Under `dag.test()` in Airflow 3.3 a retry is real: the task goes `up_for_retry`, the run
loop waits out its retry delay (at least 1 s) and runs the task again with try_number 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
import duckdb
source, release = sys.argv[1], Path(sys.argv[2])
con = duckdb.connect(source)  # read-write: DuckDB's exclusive lock on the file, across processes
print("held", flush=True)
deadline = time.monotonic() + 120
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
con.close()
print("released" if release.exists() else "gave up waiting", flush=True)
"""


def _dbt_project(root: Path, source: Path) -> Path:
    project = root / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nprofile: tiny\nmodels:\n  tiny:\n    +materialized: table\n"
    )
    attach = f"ATTACH IF NOT EXISTS '{source}' AS source_db (READ_ONLY)"
    (project / "models" / "from_source.sql").write_text(
        f'{{{{ config(pre_hook=[{{"sql": "{attach}", "transaction": False}}]) }}}}\n'
        "select order_id from source_db.main.orders\n"
    )
    (project / "models" / "broken.sql").write_text("select no_such_column from range(1)\n")
    return project


def _dag_source(project: Path, release: Path) -> str:
    args = {
        "project_dir": str(project),
        "conn_id": "tiny_warehouse",
        "warehouse_type": "duckdb",
        "profile_name": "tiny",
        "target_name": "dev",
        "schema": "analytics_dev",
    }
    return f"""
from datetime import timedelta
from pathlib import Path

from airflow_provider_dualengine.factory.dag_defaults import new_dag
from airflow_provider_dualengine.operators.dbt import DbtBuildOperator
from airflow_provider_dualengine.operators.dbt_model import DbtModelOperator

ARGS = {args!r}


def let_the_lock_go(context):
    Path({str(release)!r}).touch()


dag = new_dag(
    "retry_policy",
    tags=["test"],
    doc_md="retries under dag.test()",
    schedule=None,
    default_args={{"retry_delay": timedelta(seconds=1)}},
)
with dag:
    build = DbtBuildOperator(task_id="build_stage", models=["from_source", "broken"], fail_on_model_error=False, **ARGS)
    for name in ("from_source", "broken"):
        build >> DbtModelOperator(
            task_id=name,
            model=name,
            build_task_id="build_stage",
            relation=f"analytics_dev.{{name}}",
            on_retry_callback=let_the_lock_go,
            **ARGS,
        )
"""


def _close_dbt_duckdb_connection() -> None:
    """dbt-duckdb keeps its connection (with source_db attached) open in this process after
    dag.test(); close it so no later test meets this file's lock."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None and getattr(env, "conn", None) is not None:
        env.conn.close()
        env.conn = None
    DuckDBConnectionManager._ENV = None


def test_a_locked_model_is_retried_and_rebuilt_a_broken_one_fails_after_one_try(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata_db: Path, scenario_dag
) -> None:
    source, release, warehouse = tmp_path / "source.duckdb", tmp_path / "release", tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("CREATE TABLE orders AS SELECT * FROM (VALUES (1), (2)) v(order_id)")
    monkeypatch.setenv("AIRFLOW_CONN_TINY_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(warehouse)}))
    monkeypatch.setenv("DUALENGINE_CACHE_DIR", str(tmp_path / "cache"))
    project = _dbt_project(tmp_path, source)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(source), str(release)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        run = scenario_dag("retry_policy", _dag_source(project, release))
        holder_said = holder.stdout.read().strip()
    finally:
        release.touch()
        holder.wait(timeout=30)
        _close_dbt_duckdb_connection()

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    build = tis["build_stage"].xcom_pull(task_ids="build_stage")
    # the stage's one dbt build met the real lock on one model and a real SQL error on the other
    assert "Could not set lock on file" in build["models"]["from_source"]["message"]
    assert "no_such_column" in build["models"]["broken"]["message"]
    assert holder_said == "released"  # by the locked model's retry callback: Airflow retried that task
    states = {task_id: (str(ti.state), ti.try_number) for task_id, ti in tis.items()}
    assert states == {
        "build_stage": ("success", 1),
        "from_source": ("success", 2),  # retried; the second try rebuilt the model alone
        "broken": ("failed", 1),  # an AirflowFailException: no retry although retries=2
    }
    assert tis["broken"].max_tries == 2 and str(run.state) == "failed"
    summary = tis["from_source"].xcom_pull(task_ids="from_source")
    assert summary["rebuilt_by_this_task"] is True
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select order_id from analytics_dev.from_source order by 1").fetchall() == [(1,), (2,)]
