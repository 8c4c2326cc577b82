"""What every DAG of ours shares: its defaults, and config errors shown as one readable
import error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, RetryDecision, RetryPolicy

from airflow_provider_dualengine.config.errors import DualEngineConfigError

DEFAULT_START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")
_DEPLOYMENT_BLOCKED = "airflow_provider_dualengine.deployments.coordinator.DeploymentBlocked"


class NoRetryWhenDeploymentBlocked(RetryPolicy):
    """Fail a task at once when it stopped a deployment (`DeploymentBlocked`): what a blocked
    deployment or rollback does next is for a human to decide. Most deployment steps raise
    theirs as an AirflowFailException already; this also covers the ones raised bare
    (`conclude`, the rollback DAG). Matched by class name, so parsing a DAG never imports
    the deployment code."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context: Any = None) -> RetryDecision:
        if any(f"{c.__module__}.{c.__qualname__}" == _DEPLOYMENT_BLOCKED for c in type(exception).__mro__):
            return RetryDecision.fail("a blocked deployment is never retried: a human decides what happens next")
        return RetryDecision.default()


# Every task retries a transient warehouse failure (a DuckDB file lock held by another
# process, a PostgreSQL serialization failure, deadlock or dropped connection: see
# engines/transient.py) after 20 s, then 40 s (Airflow adds up to as much again, spread
# per task). A model, test, contract or deployment failure is raised as an
# AirflowFailException by our operators, and Airflow never retries those.
DEFAULT_TASK_ARGS: dict[str, Any] = {
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    # Airflow 3 takes a multiplier here (Airflow 2's True); 2.0 doubles the delay each try.
    "retry_exponential_backoff": 2.0,
    "retry_policy": NoRetryWhenDeploymentBlocked(),
}


def new_dag(dag_id: str, *, tags: list[str], doc_md: str, start_date: Any = None, **dag_kwargs: Any) -> DAG:
    """A DAG that never catches up and by default runs one at a time: two runs of one
    environment write the same tables (dbt's backup-and-swap of one model collides when two
    builds of it overlap: benchmarks/contention.py), and two deployments must never
    interleave. `max_active_runs=` overrides it, at that risk: pools limit how many tasks
    run, not which tables they write. Its tasks
    retry transient failures (`DEFAULT_TASK_ARGS`); a caller's `default_args` win key by key."""
    default_args = {**DEFAULT_TASK_ARGS, **(dag_kwargs.pop("default_args", None) or {})}
    return DAG(
        dag_id=dag_id,
        start_date=start_date or DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=dag_kwargs.pop("max_active_runs", 1),
        tags=["dualengine", *tags],
        doc_md=doc_md,
        default_args=default_args,
        **dag_kwargs,
    )


@contextmanager
def readable_import_errors() -> Iterator[None]:
    """Re-raise a config error without its chain, so the UI's import error is the message
    (file, key, problem, fix), not a wall of traceback."""
    try:
        yield
    except DualEngineConfigError as exc:
        raise DualEngineConfigError(exc.issues) from None
