"""The execution-window gate: the first task of an engine's part of a stage.

A window whose rules make an engine `maintenance_only` keeps that engine's work of
scheduled and asset-triggered runs waiting until a window that allows it; manual runs,
deployments and backfills go through (they are maintenance). Waiting is a deferral to
the window's end (a DateTimeTrigger in the triggerer): no worker, no pool slot is held.
On waking, the rules are read again, so an edited resources.yml counts. The task's
return value (XCom) says which window decided and how long the work waited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pendulum
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator


class ExecutionWindowGateOperator(BaseOperator):
    custom_operator_name = "Execution window gate"
    template_fields = ("environment",)
    ui_color = "#fef3c7"

    def __init__(self, *, project_dir: str, environment: str, engine: str, **kwargs: Any):
        kwargs.setdefault("pool", "default_pool")
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.environment = environment
        self.engine = engine

    def execute(self, context: Any) -> dict[str, Any]:
        return self._decide(context, waited_s=0.0, first_seen=pendulum.now("UTC"))

    def resume(self, context: Any, event: Any = None, first_seen: str | None = None) -> dict[str, Any]:
        began = datetime.fromisoformat(first_seen) if first_seen else datetime.now(UTC)
        return self._decide(context, waited_s=(datetime.now(UTC) - began).total_seconds(), first_seen=began)

    def _decide(self, context: Any, waited_s: float, first_seen: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.config.resources import load_resources
        from airflow_provider_dualengine.resources.allocation import allocations, holds_scheduled_work

        project = load_project(self.project_dir)
        spec = load_resources(project)
        now = pendulum.now("UTC")
        allocation = allocations(project, self.environment, now, spec)[self.engine]
        run_type = _run_type(context)
        if spec.execution_schedule is not None and holds_scheduled_work(allocation, run_type):
            until = spec.execution_schedule.next_boundary(now)
            self.log.info(
                "%s is maintenance_only in %s: this %s run's %s work waits until %s (deferred; no worker or pool slot held)",
                self.engine,
                allocation.window,
                run_type,
                self.engine,
                until.in_timezone(spec.execution_schedule.timezone),
            )
            self.defer(
                trigger=DateTimeTrigger(moment=until.in_timezone("UTC")),
                method_name="resume",
                kwargs={"first_seen": first_seen.isoformat()},
            )
        self.log.info(
            "%s may run in window %s (%s, %s run): pool %s, %s slots (%s), priority boost %s; waited %.0f s",
            self.engine,
            allocation.window or "-",
            allocation.execution,
            run_type,
            allocation.pool or "-",
            allocation.slots if allocation.slots is not None else "-",
            allocation.slots_source or "-",
            allocation.priority_boost,
            waited_s,
        )
        return {
            "engine": self.engine,
            "window": allocation.window,
            "execution": allocation.execution,
            "run_type": run_type,
            "waited_s": round(waited_s, 3),
            "pool": allocation.pool,
            "slots": allocation.slots,
        }


def _run_type(context: Any) -> str | None:
    run = context.get("dag_run")
    value = getattr(run, "run_type", None)
    return getattr(value, "value", value)
