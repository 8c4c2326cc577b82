"""The SQLMesh operator family against real SQLMesh and a real DuckDB file."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import duckdb
import pytest

from airflow_provider_dualengine.operators.sqlmesh import (
    SQLMeshAuditOperator,
    SQLMeshCleanupOperator,
    SQLMeshError,
    SQLMeshPlanOperator,
    SQLMeshPromoteOperator,
    SQLMeshPromotionWouldBackfill,
    SQLMeshRunOperator,
    SQLMeshTestOperator,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dev_env(example_project: Path, tmp_path_factory: pytest.TempPathFactory):
    """A project copy planned into `dev` on its own DuckDB file."""
    root = tmp_path_factory.mktemp("ops")
    project = root / "transforms"
    # SQLMesh alone: without its reporting model, which reads a table dbt builds
    shutil.copytree(
        example_project / "sqlmesh",
        project / "sqlmesh",
        ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache", "reporting"),
    )
    db = root / "shop.duckdb"
    patcher = mock.patch.dict(
        "os.environ", {"AIRFLOW_CONN_OPS_WAREHOUSE": json.dumps({"conn_type": "duckdb", "host": str(db)})}
    )
    patcher.start()
    kwargs = {"project_path": str(project / "sqlmesh"), "conn_id": "ops_warehouse"}
    result = SQLMeshPlanOperator(task_id="plan", environment="dev", **kwargs).execute({})
    assert result["applied"] and result["failed"] == []
    yield project, db, kwargs
    patcher.stop()


def test_unit_tests_run_as_their_own_task(dev_env) -> None:
    _, _, kwargs = dev_env
    result = SQLMeshTestOperator(task_id="t", **kwargs).execute({})
    assert result == {"action": "test", "tests_run": 1, "failed": []}


def test_audits_pass_over_the_data_interval(dev_env) -> None:
    import pendulum

    _, _, kwargs = dev_env
    context = {"data_interval_start": pendulum.datetime(2024, 1, 1), "data_interval_end": pendulum.datetime(2024, 2, 1)}
    result = SQLMeshAuditOperator(task_id="a", environment="dev", **kwargs).execute(context)
    assert result["passed"] is True and result["start"].startswith("2024-01-01")


def test_promotion_refuses_code_that_was_not_validated(dev_env) -> None:
    project, db, kwargs = dev_env
    model = project / "sqlmesh" / "models" / "intermediate" / "customer_lifetime.sql"
    original = model.read_text()
    model.write_text(original.replace("SELECT", "SELECT /* changed */ 1 AS changed_flag,", 1))
    try:
        with pytest.raises(SQLMeshPromotionWouldBackfill, match="intermediate.customer_lifetime"):
            SQLMeshPromoteOperator(task_id="p", source_environment="dev", **kwargs).execute({})
    finally:
        model.write_text(original)
    with duckdb.connect(str(db)) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert "intermediate" not in schemas  # prod untouched


def test_promotion_after_another_interval_completed_is_a_view_swap_as_of_the_validation(
    dev_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment validated before midnight and promoted after it (the landing CI's
    cluster run at 23:58-00:00): the interval that completed in between is the next run's,
    not a backfill that makes the promotion refuse."""
    import pendulum

    project, _, _ = dev_env
    db = tmp_path / "crossing.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_CROSSING", json.dumps({"conn_type": "duckdb", "host": str(db)}))
    kwargs = {"project_path": str(project / "sqlmesh"), "conn_id": "crossing"}
    promote = SQLMeshPromoteOperator(task_id="p", source_environment="green", **kwargs)
    validated_at = pendulum.now("UTC").start_of("day").subtract(days=2).add(hours=23, minutes=58)
    with promote.hook.context() as ctx:  # green as the deploy DAG plans it, two days ago at 23:58
        ctx.plan("green", execution_time=validated_at, no_prompts=True, auto_apply=True)

    result = promote.execute({})  # now: two more daily intervals have completed
    assert "intermediate.customer_lifetime" in result["swapped"]
    with duckdb.connect(str(db)) as con:
        rows = con.execute("SELECT count(*) FROM intermediate.customer_lifetime").fetchone()[0]
    assert rows > 0


def test_promotion_of_an_unknown_environment_is_refused(dev_env) -> None:
    _, _, kwargs = dev_env
    with pytest.raises(SQLMeshError, match="environment 'qa' does not exist"):
        SQLMeshPromoteOperator(task_id="p", source_environment="qa", **kwargs).execute({})


def test_cleanup_drops_the_environment_views(dev_env) -> None:
    _, db, kwargs = dev_env
    SQLMeshCleanupOperator(task_id="c", environment="dev", **kwargs).execute({})
    with duckdb.connect(str(db)) as con:
        views = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_type = 'VIEW' AND table_schema LIKE '%__dev'"
        ).fetchone()[0]
    assert views == 0
    with pytest.raises(SQLMeshError, match="refusing to invalidate the prod environment"):
        SQLMeshCleanupOperator(task_id="c", environment="prod", **kwargs).execute({})


def test_run_fails_when_sqlmesh_reports_failure_without_raising() -> None:
    """`Context.run` returns CompletionStatus.FAILURE instead of raising: the task must fail."""
    from sqlmesh.core.scheduler import CompletionStatus

    ctx = mock.MagicMock()
    ctx.run.return_value = CompletionStatus.FAILURE

    @contextmanager
    def fake_context(self, console=None):
        yield ctx

    with mock.patch("airflow_provider_dualengine.hooks.sqlmesh.SQLMeshHook.context", fake_context):
        with pytest.raises(SQLMeshError, match="reported FAILURE"):
            SQLMeshRunOperator(task_id="r", project_path="/p", environment="prod").execute({})
        ctx.run.return_value = CompletionStatus.NOTHING_TO_DO
        result = SQLMeshRunOperator(task_id="r", project_path="/p", environment="prod").execute({})
    assert result["status"] == "nothing_to_do" and result["failed"] == []
