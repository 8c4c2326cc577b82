"""Hold dbt (or anything) back until SQLMesh has computed a model's interval.

A dbt DAG on its own schedule reads tables that SQLMesh's cron run fills; this sensor
waits until the SQLMesh model is complete up to the run's data interval end. It reads
SQLMesh state only, never loads the project, and by default waits in the triggerer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from airflow_provider_dualengine.triggers.sqlmesh_freshness import SQLMeshModelFreshTrigger


class SQLMeshModelNotFresh(AirflowException):
    """The freshness check itself failed (configuration, state database), not just "not yet"."""


class SQLMeshModelFreshSensor(BaseSensorOperator):
    """Succeeds once `model` in `environment` has complete intervals up to `target_time`.

    :param model: the SQLMesh model, ``schema.table`` (or ``catalog.schema.table``).
    :param environment: SQLMesh environment whose state decides (``prod`` by default).
    :param project_path: the SQLMesh project folder; else the connection's `project_path` extra.
    :param gateway: gateway whose state connection holds SQLMesh state; else the default.
    :param conn_id: Airflow connection with the warehouse (also the state, unless the project
        configures a separate state connection or `state_conn_id` is given).
    :param target_time: datetime or ISO string; default the run's `data_interval_end`, else now.
        For a daily model, the interval ending at the target's day boundary must be done.
    :param deferrable: wait in the triggerer (default) instead of occupying a worker slot.
    """

    custom_operator_name = "SQLMesh freshness"

    template_fields: Sequence[str] = ("model", "environment", "target_time", "project_path")
    ui_color = "#ede9fe"

    def __init__(
        self,
        *,
        model: str,
        environment: str = "prod",
        project_path: str | None = None,
        gateway: str | None = None,
        conn_id: str | None = "dualengine_warehouse",
        state_conn_id: str | None = None,
        target_time: datetime | str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.model = model
        self.environment = environment
        self.project_path = project_path
        self.gateway = gateway
        self.conn_id = conn_id
        self.state_conn_id = state_conn_id
        self.target_time = target_time
        self.deferrable = deferrable

    def _target(self, context: Any) -> str:
        target = self.target_time or context.get("data_interval_end") or datetime.now(UTC)
        if isinstance(target, str):
            target = datetime.fromisoformat(target)
        return (target if target.tzinfo else target.replace(tzinfo=UTC)).isoformat()

    def _trigger(self, target: str, timeout: float) -> SQLMeshModelFreshTrigger:
        return SQLMeshModelFreshTrigger(
            project_path=self.project_path,
            model=self.model,
            environment=self.environment,
            target=target,
            gateway=self.gateway,
            conn_id=self.conn_id,
            state_conn_id=self.state_conn_id,
            poke_interval=self.poke_interval,
            timeout=timeout,
        )

    def poke(self, context: Any) -> bool:
        result = self._trigger(self._target(context), self.timeout).check()
        self.log.info("%s", result.reason)
        return result.ready

    def execute(self, context: Any) -> None:
        if not self.deferrable:
            return super().execute(context)
        trigger = self._trigger(self._target(context), self.timeout)
        result = trigger.check()
        self.log.info("%s", result.reason)
        if result.ready:
            return None
        # The trigger's own timeout reports what was complete; the defer timeout is only a
        # backstop in case the trigger is restarted (its clock restarts with it).
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + self.poke_interval + 60),
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        status = event.get("status")
        if status == "ready":
            self.log.info("%s", event.get("reason"))
            return
        where = f"SQLMesh model {event.get('model', self.model)} in environment '{event.get('environment', self.environment)}'"
        complete = event.get("complete_until")
        done = f"complete until {complete}" if complete else "no complete interval"
        if status == "timeout":
            raise AirflowSensorTimeout(
                f"{where} was not complete up to {event.get('target')} after {self.timeout:.0f}s ({done}): {event.get('reason')}"
            )
        raise SQLMeshModelNotFresh(f"{where}: freshness check failed: {event.get('reason')}")
