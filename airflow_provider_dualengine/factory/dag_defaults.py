"""What every DAG of ours shares: its defaults, and config errors shown as one readable
import error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_dualengine.config.errors import DualEngineConfigError

DEFAULT_START_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


def new_dag(dag_id: str, *, tags: list[str], doc_md: str, start_date: Any = None, **dag_kwargs: Any) -> DAG:
    """A DAG that never catches up and runs one at a time: two runs of one environment
    would write the same tables (and two deployments must never interleave)."""
    return DAG(
        dag_id=dag_id,
        start_date=start_date or DEFAULT_START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["dualengine", *tags],
        doc_md=doc_md,
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
