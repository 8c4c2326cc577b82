"""Every task of our DAGs retries transient warehouse errors; model, test, contract and
deployment failures fail at once (an AirflowFailException, which Airflow never retries).

The operators run their real `execute` on small fake task instances carrying XCom, as
Airflow hands them over; only the engines (dbt, SQLMesh) are replaced by their results.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.operators.dbt import DbtBuildOperator, DbtModelsFailed, DbtModelsFailedNoRetry
from airflow_provider_dualengine.operators.dbt_model import DbtModelFailed, DbtModelFailedNoRetry, DbtModelOperator

LOCK = (
    "Runtime Error in model orders (models/orders.sql)\n  IO Error: Could not set lock on file "
    '"/data/shop.duckdb": Conflicting lock is held in /usr/bin/python3.11 (PID 4242).'
)
SERIALIZATION = (
    "Database Error in model orders (models/orders.sql)\n  could not serialize access due to concurrent update"
)
SQL_ERROR = 'Binder Error: Referenced column "no_such_column" not found in FROM clause!'


# --- the DAGs --------------------------------------------------------------------------


def _retry_settings(dag: Any) -> set[tuple[Any, ...]]:
    return {(t.retries, t.retry_delay, t.retry_exponential_backoff) for t in dag.tasks}


def test_every_task_of_the_example_dags_retries_twice_with_backoff(example_project: Path) -> None:
    from airflow_provider_dualengine import ProjectConfig, build_dag, build_deploy_dag, build_rollback_dag

    production = ProjectConfig(example_project, environment="production")
    for dag in (build_dag(example_project), build_deploy_dag(production), build_rollback_dag(production)):
        assert len(dag.tasks) > 0
        assert _retry_settings(dag) == {(2, timedelta(seconds=20), 2.0)}, dag.dag_id


def test_the_dags_folder_example_has_the_default_retries(example_project: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import DAGS_FOLDER

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["dualengine_shop_development"]
    assert dag.get_task("stage_3_dbt.dbt.customer_value").retries == 2
    assert _retry_settings(dag) == {(2, timedelta(seconds=20), 2.0)}


def test_the_callers_default_args_win_key_by_key(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, default_args={"retries": 5, "owner": "data-team"})
    assert _retry_settings(dag) == {(5, timedelta(seconds=20), 2.0)}
    assert {t.owner for t in dag.tasks} == {"data-team"}
    assert (
        build_dag(example_project, default_args={"retries": 0}).get_task("stage_1_sqlmesh.sqlmesh.run_stage").retries
        == 0
    )


def test_an_operator_argument_wins_over_the_dags_defaults(example_project: Path) -> None:
    from airflow_provider_dualengine import ExecutionConfig, build_dag

    dag = build_dag(example_project, execution_config=ExecutionConfig(sqlmesh_operator_args={"retries": 5}))
    assert dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage").retries == 5
    assert dag.get_task("stage_1_sqlmesh.sqlmesh.staging__stg_orders").retries == 2


def test_a_blocked_deployment_is_never_retried_whatever_raised_it() -> None:
    """The DAGs' retry policy fails any DeploymentBlocked at once (conclude and rollback raise theirs bare)."""
    from airflow.sdk import RetryAction

    from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked
    from airflow_provider_dualengine.factory.dag_defaults import DEFAULT_TASK_ARGS

    policy = DEFAULT_TASK_ARGS["retry_policy"]
    assert policy.evaluate(DeploymentBlocked("deployment d1 rolled back"), 1, 2).action is RetryAction.FAIL

    class Subclass(DeploymentBlocked):
        pass

    assert policy.evaluate(Subclass("x"), 1, 2).action is RetryAction.FAIL
    assert policy.evaluate(RuntimeError("Could not set lock on file"), 1, 2).action is RetryAction.DEFAULT


# --- dbt -------------------------------------------------------------------------------


class _TaskInstance:
    def __init__(self, xcom: dict[str, Any] | None = None, try_number: int = 1, max_tries: int = 2):
        self.xcom, self.try_number, self.max_tries = xcom or {}, try_number, max_tries
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return self.xcom.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _context(ti: _TaskInstance) -> dict[str, Any]:
    return {"ti": ti, "outlet_events": defaultdict(lambda: SimpleNamespace(extra={}))}


def _outcome(status: str = "success", message: str | None = "OK", tests_failed: list | None = None) -> dict[str, Any]:
    return {
        "unique_id": "model.shop.orders",
        "status": status,
        "message": message,
        "execution_s": 0.1,
        "rows_affected": 2,
        "completed_at": "2025-01-01T12:00:00Z",
        "tests_passed": 1,
        "tests_failed": tests_failed or [],
        "tests_warned": [],
    }


DBT_ARGS = {
    "project_dir": "/project/dbt",
    "conn_id": "warehouse",
    "warehouse_type": "duckdb",
    "profile_name": "shop",
    "target_name": "dev",
    "schema": "analytics_dev",
}


def _model_task() -> DbtModelOperator:
    return DbtModelOperator(
        task_id="orders", model="orders", build_task_id="build_stage", relation="analytics_dev.orders", **DBT_ARGS
    )


def _report(outcome: dict[str, Any] | None, try_number: int = 1) -> dict[str, Any]:
    models = {"orders": outcome} if outcome else {}
    ti = _TaskInstance({"build_stage": {"models": models, "failed": []}}, try_number)
    return _model_task().execute(_context(ti))


DBT_MODEL_FAILS_AT_ONCE = {
    "sql error": _outcome("error", SQL_ERROR),
    "failed test": _outcome("tests_failed", tests_failed=[{"test": "unique_orders_id", "message": "Got 1 result"}]),
    "failed test beside a test that hit the lock": _outcome(
        "tests_failed",
        tests_failed=[{"test": "unique_orders_id", "message": "Got 1 result"}, {"test": "nn", "message": LOCK}],
    ),
    "not built": None,
}
DBT_MODEL_RETRIES = {
    "lock": _outcome("error", LOCK),
    "serialization failure": _outcome("error", SERIALIZATION),
    "test that hit the lock": _outcome("tests_failed", tests_failed=[{"test": "nn", "message": LOCK}]),
    "skipped for an upstream failure": _outcome("skipped", None),
}


@pytest.mark.parametrize("outcome", DBT_MODEL_FAILS_AT_ONCE.values(), ids=DBT_MODEL_FAILS_AT_ONCE.keys())
def test_a_dbt_model_that_failed_on_its_own_fails_its_task_without_retry(outcome: dict[str, Any] | None) -> None:
    with pytest.raises(DbtModelFailedNoRetry) as raised:
        _report(outcome)
    assert isinstance(raised.value, DbtModelFailed) and isinstance(raised.value, AirflowFailException)
    assert "dbt model orders (analytics_dev.orders)" in str(raised.value)


@pytest.mark.parametrize("outcome", DBT_MODEL_RETRIES.values(), ids=DBT_MODEL_RETRIES.keys())
def test_a_dbt_model_that_can_succeed_unchanged_is_retried(outcome: dict[str, Any]) -> None:
    with pytest.raises(DbtModelFailed) as raised:
        _report(outcome)
    assert not isinstance(raised.value, AirflowFailException)
    assert "a retry builds it alone" in str(raised.value) or "which builds the model alone" in str(raised.value)


def test_the_retry_after_a_lock_rebuilds_the_model_alone() -> None:
    rebuilt = {"models": {"orders": _outcome()}, "failed": []}
    with mock.patch.object(DbtModelOperator, "dbt_build", return_value=rebuilt) as build:
        summary = _report(_outcome("error", LOCK), try_number=2)
    build.assert_called_once_with(["orders"])
    assert summary["rebuilt_by_this_task"] is True and summary["status"] == "built"


def _build(result: dict[str, Any], fail_on_model_error: bool = True) -> dict[str, Any]:
    task = DbtBuildOperator(
        task_id="build_stage", models=["orders", "customers"], fail_on_model_error=fail_on_model_error, **DBT_ARGS
    )
    with mock.patch.object(DbtBuildOperator, "dbt_build", return_value=result):
        return task.execute(_context(_TaskInstance()))


def test_a_dbt_build_fails_at_once_unless_every_failure_was_transient() -> None:
    locked = {"models": {"orders": _outcome("error", LOCK), "customers": _outcome("skipped", None)}, "failed": []}
    locked["failed"] = ["customers", "orders"]
    with pytest.raises(DbtModelsFailed) as retried:
        _build(locked)
    assert not isinstance(retried.value, AirflowFailException) and "Airflow retries this build" in str(retried.value)

    mixed = {"models": {"orders": _outcome("error", LOCK), "customers": _outcome("error", SQL_ERROR)}}
    mixed["failed"] = ["customers", "orders"]
    with pytest.raises(DbtModelsFailedNoRetry) as failed:
        _build(mixed)
    assert (
        isinstance(failed.value, AirflowFailException) and str(failed.value) == "dbt models failed: customers, orders"
    )
    # with model tasks the build reports instead of failing; each model's task decides
    assert _build(mixed, fail_on_model_error=False)["failed"] == ["customers", "orders"]


# --- SQLMesh ---------------------------------------------------------------------------


class _NodeFailed(Exception):
    """What SQLMesh hands its console for a failed model: the node, and the cause."""

    def __init__(self, model: str, cause: BaseException):
        super().__init__(f"Execution failed for node {model}")
        self.node = SimpleNamespace(snapshot_name=f'"shop"."{model.replace(".", chr(34) + "." + chr(34))}"')
        self.__cause__ = cause


@contextmanager
def _sqlmesh_failing(**errors: BaseException) -> Iterator[None]:
    """SQLMesh's run reporting FAILURE, the given models failed with these causes."""
    from sqlmesh.core.scheduler import CompletionStatus

    def fake_context(self: Any, console: Any = None) -> Iterator[Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            console.log_failed_models([_NodeFailed(name.replace("__", "."), exc) for name, exc in errors.items()])
            return CompletionStatus.FAILURE

        yield SimpleNamespace(run=run)

    with mock.patch("airflow_provider_dualengine.hooks.sqlmesh.SQLMeshHook.context", contextmanager(fake_context)):
        yield


def _run_stage(fail_on_model_error: bool, try_number: int = 1, max_tries: int = 2) -> dict[str, Any]:
    from airflow_provider_dualengine.operators.sqlmesh import SQLMeshRunOperator

    task = SQLMeshRunOperator(
        task_id="run_stage", project_path="/p", environment="dev", fail_on_model_error=fail_on_model_error
    )
    return task.execute({"ti": _TaskInstance(try_number=try_number, max_tries=max_tries)})


def test_a_sqlmesh_stage_fails_at_once_for_a_model_error_and_retries_a_lock() -> None:
    import duckdb

    from airflow_provider_dualengine.operators.sqlmesh import SQLMeshModelsFailed, SQLMeshModelsFailedNoRetry

    lock, binder = duckdb.IOException(LOCK.split("\n  ")[1]), duckdb.BinderException(SQL_ERROR)
    with _sqlmesh_failing(staging__orders=lock):
        with pytest.raises(SQLMeshModelsFailed) as retried:
            _run_stage(fail_on_model_error=True)
        assert not isinstance(retried.value, AirflowFailException)
        # with model tasks too: only this task's retry runs SQLMesh again, so it fails for them while it can retry
        with pytest.raises(SQLMeshModelsFailed, match="Airflow retries this stage"):
            _run_stage(fail_on_model_error=False, try_number=1)
        # its last try hands the outcomes to the model tasks, which report the failure
        last = _run_stage(fail_on_model_error=False, try_number=3)
        assert (
            last["failed"] == ["staging.orders"] and "Could not set lock" in last["models"]["staging.orders"]["error"]
        )
    with _sqlmesh_failing(staging__orders=lock, staging__customers=binder):
        with pytest.raises(SQLMeshModelsFailedNoRetry) as failed:
            _run_stage(fail_on_model_error=True)
        assert isinstance(failed.value, AirflowFailException)
        assert _run_stage(fail_on_model_error=False)["failed"] == ["staging.customers", "staging.orders"]


def test_failed_sqlmesh_tests_and_refusals_are_not_retried() -> None:
    from airflow_provider_dualengine.operators.sqlmesh import SQLMeshCleanupOperator, SQLMeshError

    with pytest.raises(SQLMeshError, match="refusing to invalidate the prod environment") as refused:
        SQLMeshCleanupOperator(task_id="c", environment="prod").execute({})
    assert isinstance(refused.value, AirflowFailException)


@pytest.mark.parametrize("error", [SQL_ERROR, f"IOException: {LOCK}"], ids=["sql error", "lock"])
def test_a_sqlmesh_model_task_never_retries_a_reading_of_the_same_outcome(error: str) -> None:
    from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelFailed, SQLMeshModelOperator

    outcome = {"status": "failed", "error": error, "intervals": 0, "duration_ms": 0, "audits_passed": 0}
    ti = _TaskInstance({"run_stage": {"models": {"staging.orders": outcome}, "failed": ["staging.orders"]}})
    task = SQLMeshModelOperator(
        task_id="staging__orders", model="staging.orders", executor_task_id="run_stage", environment="dev"
    )
    with pytest.raises(SQLMeshModelFailed) as raised:
        task.execute(_context(ti))
    assert isinstance(raised.value, AirflowFailException)
    assert str(raised.value).startswith(f"SQLMesh model staging.orders failed in 'dev': {error}")
    # a lock that outlasted the stage's retries says how to run the stage again
    assert ("Clear run_stage with its downstream tasks" in str(raised.value)) == ("lock" in error.lower())


# --- contracts and deployments ---------------------------------------------------------


def test_a_contract_violation_is_data_and_fails_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from airflow_provider_dualengine.operators.contract_check import ContractCheckOperator, ContractViolation

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA shop; CREATE TABLE shop.orders AS SELECT * FROM (VALUES (1), (NULL)) v(order_id)")
    monkeypatch.setenv("AIRFLOW_CONN_CONTRACT_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    contract = {
        "name": "shop.orders",
        "columns": [{"name": "order_id", "data_type": "integer", "constraints": [{"type": "not_null"}]}],
        "producer": "sqlmesh",
        "consumers": ["dbt"],
    }
    task = ContractCheckOperator(
        task_id="contract", contract=contract, schema="shop", table="orders", conn_id="contract_warehouse"
    )
    with pytest.raises(ContractViolation, match="FAILED not_null order_id: 1 row") as raised:
        task.execute({"ti": _TaskInstance(), "outlet_events": {}})
    assert isinstance(raised.value, AirflowFailException)


def test_a_blocked_deployment_step_fails_at_once_and_is_still_a_deployment_blocked() -> None:
    from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked
    from airflow_provider_dualengine.operators.deployment import IntegrationValidationOperator

    site = SimpleNamespace(redact=lambda text: text.replace("s3cret", "***"))
    task = IntegrationValidationOperator(task_id="compare_with_prod", project_dir="/project", environment="production")
    ti, cause = _TaskInstance(), RuntimeError("row count of shop.orders: 10 in green, 12 in prod")
    with pytest.raises(DeploymentBlocked) as raised:
        task.blocked({"ti": ti}, "integration validation failed (password s3cret)", cause, site)
    assert isinstance(raised.value, AirflowFailException) and raised.value.__cause__ is cause
    assert str(raised.value) == ti.pushed["blocked_reason"] == "integration validation failed (password ***)"


def test_sqlmesh_state_locked_while_dating_a_producer_is_retried_not_a_violation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Freshness read from SQLMesh state that a writer holds: try again, do not fail the contract."""
    from datetime import UTC, datetime

    from airflow_provider_dualengine.engines.sqlmesh.freshness import ModelFreshness
    from airflow_provider_dualengine.hooks import sqlmesh as sqlmesh_hook
    from airflow_provider_dualengine.operators.contract_check import ContractCheckOperator

    def answer(reason: str, altered: datetime | None):
        def model_freshness(self, model, environment, target):
            return ModelFreshness(model, environment, target, altered is not None, False, None, reason, None, altered)

        return model_freshness

    check = ContractCheckOperator(
        task_id="c", contract={}, schema="s", table="t", sqlmesh_environment="dev", project_path="/p"
    )
    monkeypatch.setattr(
        sqlmesh_hook.SQLMeshHook,
        "model_freshness",
        answer("SQLMesh state is locked by a writer (probably a SQLMesh run in progress): Conflicting lock", None),
    )
    with pytest.raises(RuntimeError, match="locked by a writer") as raised:
        check._sqlmesh_last_write("staging.customer_enhanced")
    assert not isinstance(raised.value, AirflowFailException)
    written = datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setattr(sqlmesh_hook.SQLMeshHook, "model_freshness", answer("complete", written))
    assert check._sqlmesh_last_write("staging.customer_enhanced") == (
        written,
        "SQLMesh's last write of staging.customer_enhanced in environment 'dev'",
    )
    monkeypatch.setattr(
        sqlmesh_hook.SQLMeshHook, "model_freshness", answer("model 'x' is not in environment 'dev'", None)
    )
    assert check._sqlmesh_last_write("x")[0] is None
