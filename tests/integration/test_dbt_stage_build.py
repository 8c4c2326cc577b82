"""One real `dbt build` per stage, and per-model tasks that report it (or rebuild their model).

A small dbt project on a DuckDB file: a good model with passing tests, a model whose test
fails, a model with a SQL error and a model reading it. The stage task builds all of them
in one dbt invocation and does not fail; each model's task fails or succeeds on its own
outcome, with dbt's message; a retry of the broken model's task, after the SQL is fixed,
rebuilds that model alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from airflow_provider_dualengine.operators.dbt import DbtBuildOperator
from airflow_provider_dualengine.operators.dbt_model import DbtModelFailed, DbtModelOperator

pytestmark = pytest.mark.slow

MODELS = {
    "orders": "select 1 as order_id, 10 as amount union all select 2, 20",
    "scores": "select 1 as customer_id union all select 1",  # duplicate key: its unique test fails
    "broken": "select no_such_column from {{ ref('orders') }}",
    "after_broken": "select * from {{ ref('broken') }}",
}
SCHEMA_YML = """
version: 2
models:
  - name: orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
  - name: scores
    columns:
      - name: customer_id
        data_tests: [unique]
"""


@pytest.fixture
def dbt_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: tiny\nversion: '1.0'\nprofile: tiny\nmodels:\n  tiny:\n    +materialized: table\n"
    )
    for name, sql in MODELS.items():
        (project / "models" / f"{name}.sql").write_text(sql)
    (project / "models" / "schema.yml").write_text(SCHEMA_YML)
    monkeypatch.setenv("DUALENGINE_CACHE_DIR", str(tmp_path / "cache"))  # dbt's partial-parse state
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_TINY_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(warehouse)}))
    return project


def _args(project: Path) -> dict:
    return {
        "project_dir": str(project),
        "conn_id": "tiny_warehouse",
        "warehouse_type": "duckdb",
        "profile_name": "tiny",
        "target_name": "dev",
        "schema": "analytics_dev",
    }


class _TaskInstance:
    def __init__(self, xcom: dict, try_number: int = 1):
        self.xcom, self.try_number = xcom, try_number

    def xcom_pull(self, task_ids: str):
        return self.xcom.get(task_ids)


def _context(ti: _TaskInstance) -> dict:
    events: dict = defaultdict(lambda: SimpleNamespace(extra={}))
    return {"ti": ti, "outlet_events": events}


def _rows(project: Path, sql: str) -> list[tuple]:
    # read-write: this process (dbt in-process) may still hold the file, and DuckDB wants one configuration
    with duckdb.connect(str(project.parent / "warehouse.duckdb")) as con:
        return con.execute(sql).fetchall()


def test_one_build_for_the_stage_and_each_model_reports_its_own_outcome(dbt_project: Path) -> None:
    build = DbtBuildOperator(
        task_id="build_stage", models=list(MODELS), fail_on_model_error=False, **_args(dbt_project)
    )
    result = build.execute(_context(_TaskInstance({})))  # one invocation; model failures do not fail it
    statuses = {name: outcome["status"] for name, outcome in result["models"].items()}
    assert statuses == {"orders": "success", "scores": "tests_failed", "broken": "error", "after_broken": "skipped"}
    assert result["models"]["orders"]["tests_passed"] == 2
    assert _rows(dbt_project, "select order_id, amount from analytics_dev.orders order by 1") == [(1, 10), (2, 20)]

    def report(model: str, try_number: int = 1, xcom: dict | None = None) -> dict:
        task = DbtModelOperator(
            task_id=model,
            model=model,
            build_task_id="build_stage",
            relation=f"analytics_dev.{model}",
            **_args(dbt_project),
        )
        return task.execute(_context(_TaskInstance({"build_stage": result} if xcom is None else xcom, try_number)))

    assert report("orders")["tests_passed"] == 2
    with pytest.raises(DbtModelFailed, match=r"scores \(analytics_dev.scores\) was built but its tests failed: unique"):
        report("scores")
    with pytest.raises(DbtModelFailed, match=r"(?s)broken \(analytics_dev.broken\) failed: .*no_such_column"):
        report("broken")
    with pytest.raises(DbtModelFailed, match="after_broken .* skipped by dbt because a model or test it depends on"):
        report("after_broken")

    # the user fixes the model and clears its task: the retry builds that model alone
    (dbt_project / "models" / "broken.sql").write_text("select order_id * 100 as fixed from {{ ref('orders') }}")
    summary = report("broken", try_number=2)
    assert summary["rebuilt_by_this_task"] is True and summary["status"] == "built"
    assert _rows(dbt_project, "select fixed from analytics_dev.broken order by 1") == [(100,), (200,)]
    assert not _rows(  # nothing else was rebuilt: the model downstream of it still does not exist
        dbt_project,
        "select * from information_schema.tables where table_schema = 'analytics_dev' and table_name = 'after_broken'",
    )
    # a built model is only reported again on a retry, not rebuilt
    assert report("orders", try_number=2)["rebuilt_by_this_task"] is False
    # every invocation left dbt's partial-parse state for the next one (one file per project, target and vars)
    assert [p.suffix for p in (dbt_project.parent / "cache" / "dbt-partial-parse").iterdir()] == [".msgpack"]


def test_a_dbt_that_cannot_start_fails_the_stage_task(dbt_project: Path) -> None:
    from airflow_provider_dualengine.engines.dbt.build import DbtInvocationError

    (dbt_project / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: [not, a, name]\n")
    build = DbtBuildOperator(task_id="build_stage", models=["orders"], **_args(dbt_project))
    with pytest.raises(DbtInvocationError, match="dbt build did not run"):
        build.execute(_context(_TaskInstance({})))


def test_a_build_waits_while_another_process_holds_the_duckdb_file(dbt_project: Path) -> None:
    """An operator's CLI read (or another DAG's task) holds the file for a moment: the build
    opens it through the warehouse hook, which waits, and dbt then joins that open database
    instead of failing with DuckDB's lock error."""
    import subprocess
    import sys
    import time

    warehouse = dbt_project.parent / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(warehouse)!r}, read_only=False); print('ready', flush=True); time.sleep(2.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        build = DbtBuildOperator(task_id="build_stage", models=["orders"], **_args(dbt_project))
        result = build.execute(_context(_TaskInstance({})))
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result["models"]["orders"]["status"] == "success", result
    assert waited >= 1.5  # it waited for the holder instead of failing on its lock
    assert _rows(dbt_project, "select count(*) from analytics_dev.orders") == [(2,)]
