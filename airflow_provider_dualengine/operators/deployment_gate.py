"""A regular run's warehouse writers wait while a deployment of their environment runs.

A deployment saves prod as it is, builds green, validates it against prod and switches:
a scheduled run writing the same environment in between would change what it saved and
compared. So the tasks of `build_dag` that write the warehouse (SQLMesh plan/run, dbt
builds) check the environment's deployment lease as they start and, while a deployment or
rollback holds it, defer (free their worker and pool slot; the deployment's own tasks take
the pool) and look again every `DUALENGINE_DEPLOYMENT_POLL_S` seconds (default 60). The
deploy DAG's own tasks do not wait for themselves (`deployment_environment=None`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

POLL_ENV = "DUALENGINE_DEPLOYMENT_POLL_S"
DEFAULT_POLL_S = 60.0


def wait_while_deploying(task: Any, context: Any) -> None:
    """Defer `task` (resuming in `resume_after_deployment`) while its environment is held."""
    environment, conn_id = getattr(task, "deployment_environment", None), getattr(task, "conn_id", None)
    if not environment or not conn_id:
        return
    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger

    from airflow_provider_dualengine.deployments.lease import held_by_deployment

    held = held_by_deployment(conn_id, environment)
    if held is None:
        return
    poll = float(os.environ.get(POLL_ENV) or DEFAULT_POLL_S)
    task.log.info(
        "Environment '%s' is being deployed (%s): waiting %.0f s before writing to it",
        environment,
        held.describe(),
        poll,
    )
    task.defer(trigger=TimeDeltaTrigger(timedelta(seconds=poll)), method_name="resume_after_deployment")


class WaitsForDeployments:
    """Mixin of the warehouse writers: `deployment_environment` set, they wait (above)."""

    deployment_environment: str | None = None

    def resume_after_deployment(self, context: Any, event: Any = None) -> Any:
        return self.execute(context)  # type: ignore[attr-defined]
