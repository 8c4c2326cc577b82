"""Thin SQLMesh operators: arguments and templating here, the work in SQLMeshHook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook


class SQLMeshPlanError(RuntimeError):
    """SQLMesh refused or failed to apply the plan."""


class SQLMeshPlanOperator(BaseOperator):
    """Plan and apply a SQLMesh project (or a selection of its models) into an environment.

    A plan with nothing to change succeeds with `has_changes: false`: re-running a
    pipeline on unchanged code is normal, not an error. Returns a summary for XCom.
    """

    template_fields: Sequence[str] = ("environment", "select_models", "start", "end")
    ui_color = "#7c3aed"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        project_path: str,
        environment: str = "prod",
        select_models: list[str] | None = None,
        gateway: str | None = None,
        warehouse_conn_id: str | None = SQLMeshHook.default_conn_name,
        start: str | None = None,
        end: str | None = None,
        skip_tests: bool = False,
        include_unmodified: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_path = project_path
        self.environment = environment
        self.select_models = select_models
        self.gateway = gateway
        self.warehouse_conn_id = warehouse_conn_id
        self.start = start
        self.end = end
        self.skip_tests = skip_tests
        self.include_unmodified = include_unmodified

    def execute(self, context: Any) -> dict[str, Any]:
        from sqlmesh.utils.errors import NoChangesPlanError, PlanError

        from airflow_provider_dualengine.engines.sqlmesh.plans import summarize_plan

        hook = SQLMeshHook(self.project_path, gateway=self.gateway, warehouse_conn_id=self.warehouse_conn_id)
        with hook.context() as ctx:
            try:
                plan = ctx.plan(
                    self.environment,
                    select_models=list(self.select_models) if self.select_models else None,
                    start=self.start,
                    end=self.end,
                    skip_tests=self.skip_tests,
                    include_unmodified=self.include_unmodified,
                    no_prompts=True,
                    auto_apply=False,
                )
            except NoChangesPlanError:
                self.log.info("SQLMesh: nothing to change in environment %s", self.environment)
                return {"environment": self.environment, "has_changes": False, "new_snapshots": [], "backfill": {}, "models": []}
            summary = summarize_plan(plan)
            self.log.info("SQLMesh plan for %s: %d new snapshots, %d models to backfill", self.environment, len(summary["new_snapshots"]), len(summary["backfill"]))
            if plan.has_changes or plan.requires_backfill:
                try:
                    ctx.apply(plan)
                except PlanError as exc:
                    raise SQLMeshPlanError(f"SQLMesh could not apply the plan to '{self.environment}': {exc}") from exc
            return summary
