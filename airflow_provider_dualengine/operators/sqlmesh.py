"""Thin SQLMesh operators: arguments and templating here, the work in SQLMeshHook.

Each returns a small JSON-serialisable result for XCom. Stage executors (plan, run)
record every model's outcome, so per-model tasks can report them without loading SQLMesh.

Retries: a stage whose failed models all failed on a transient warehouse error
(engines/transient.py) fails retryably, even when its model tasks report failures (only
the stage's engine run rebuilds a SQLMesh model): Airflow runs it again and SQLMesh
computes what is missing. Failures the same task would repeat (a model's own error,
failed unit tests, audits or lint, a refused promotion) are `...NoRetry` exceptions,
which Airflow fails at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.engines.transient import all_transient
from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook
from airflow_provider_dualengine.operators.deployment_gate import WaitsForDeployments, wait_while_deploying
from airflow_provider_dualengine.operators.engine_session import EngineResources, engine_resources, report_session


class SQLMeshError(RuntimeError):
    """SQLMesh refused or failed to do what the task asked."""


class SQLMeshFailedNoRetry(SQLMeshError, AirflowFailException):
    """A failure the same task would repeat: Airflow fails it without a retry."""


class SQLMeshModelsFailed(SQLMeshError):
    """One or more models failed during a plan or run; raised as is (Airflow retries the
    stage) when every failure was a transient warehouse error."""


class SQLMeshModelsFailedNoRetry(SQLMeshModelsFailed, SQLMeshFailedNoRetry):
    """A model failed on its own (its SQL, an audit, the data): no retry."""


class SQLMeshPromotionWouldBackfill(SQLMeshFailedNoRetry):
    """Promotion must be a view swap; this prod plan would compute data."""


class _SQLMeshOperator(BaseOperator):
    """Shared by every SQLMesh operator.

    :param concurrent_tasks: SQLMesh's gateway `concurrent_tasks`; :param warehouse_session:
        warehouse session settings (DuckDB `threads`, `memory_limit`; PostgreSQL `work_mem`,
        `statement_timeout`). Not given: SQLMesh's allocation in `config/resources.yml` of the
        dual-engine project, read at run time (operators/engine_session.py); no file: SQLMesh's defaults.
    :param resources_from: where that allocation is read from: `{"project_dir": ..., "environment": ...}`
        (both optional: else the project above `project_path`, the environment whose SQLMesh
        environment this task works in).
    """

    template_fields: Sequence[str] = ("environment", "env")
    ui_color = "#7c3aed"
    ui_fgcolor = "#ffffff"

    def __init__(
        self,
        *,
        project_path: str | None = None,
        environment: str = "prod",
        gateway: str | None = None,
        conn_id: str | None = SQLMeshHook.default_conn_name,
        state_conn_id: str | None = None,
        env: dict[str, str] | None = None,
        concurrent_tasks: int | None = None,
        warehouse_session: dict[str, Any] | None = None,
        resources_from: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_path = project_path
        self.environment = environment
        self.gateway = gateway
        self.conn_id = conn_id
        self.state_conn_id = state_conn_id
        self.env = env  # variables for the project's macros while SQLMesh runs
        self.concurrent_tasks = concurrent_tasks
        self.warehouse_session = warehouse_session
        self.resources_from = resources_from

    @property
    def hook(self) -> SQLMeshHook:
        allocated = self.engine_resources
        return SQLMeshHook(
            self.project_path,
            gateway=self.gateway,
            conn_id=self.conn_id,
            state_conn_id=self.state_conn_id,
            env=self.env,
            concurrent_tasks=allocated.parallelism,
            warehouse_session=allocated.session,
        )

    @property
    def engine_resources(self) -> EngineResources:
        """SQLMesh's concurrent_tasks and session settings for this task (read once per task)."""
        cached = self.__dict__.get("_engine_resources")
        if cached is None:
            from airflow_provider_dualengine.deployments.green_relations import green_environment

            environment = self.environment
            cached = engine_resources(
                "sqlmesh",
                self.project_path,
                parallelism=self.concurrent_tasks,
                session=self.warehouse_session,
                resources_from=self.resources_from,
                environment_hints=(
                    getattr(self, "deployment_environment", None),
                    (getattr(self, "history", None) or {}).get("environment"),
                ),
                matches=lambda env: (
                    environment in (env.sqlmesh_environment, green_environment(env.sqlmesh_environment))
                ),
                log=self.log,
            )
            self.__dict__["_engine_resources"] = cached
        return cached

    def _interval(self, context: Any, start: Any, end: Any) -> tuple[Any, Any]:
        """Explicit start/end, else the run's data interval when it spans time, else SQLMesh's default."""
        if start or end:
            return start, end
        begin, finish = context.get("data_interval_start"), context.get("data_interval_end")
        if begin is not None and finish is not None and finish > begin:
            return begin, finish
        return None, None


class _StageExecutor(WaitsForDeployments, _SQLMeshOperator):
    """Shared by plan and run: outcome recording, the model-failure policy, and waiting
    while a deployment of `deployment_environment` runs (operators/deployment_gate.py)."""

    def __init__(
        self,
        *,
        select_models: list[str] | None = None,
        fail_on_model_error: bool = True,
        deployment_environment: str | None = None,
        history: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.select_models = select_models
        self.fail_on_model_error = fail_on_model_error
        self.deployment_environment = deployment_environment
        # Run history (monitoring/history.py): {"environment": name, "relations": {model: schema.table}}
        self.history = history

    def _report_session(self, ctx: Any, context: Any) -> None:
        """Log and push (XCom `warehouse_session`) the session settings SQLMesh's own warehouse
        session has, read back from it; the configured ones when reading fails."""
        from airflow_provider_dualengine.engines.session_settings import (
            read_values,
            readback_sql,
            reported_names,
            session_report,
        )

        allocated = self.engine_resources
        warehouse, read_back = "", None
        try:
            adapter = ctx.engine_adapter
            warehouse = adapter.dialect
            names = reported_names(warehouse, allocated.session)
            read_back = read_values(names, adapter.fetchone(readback_sql(names)))
        except Exception as exc:  # the drivers raise their own types; a report never fails the task
            self.log.warning("could not read the warehouse session settings back from SQLMesh's session: %s", exc)
        concurrent = getattr(ctx, "concurrent_tasks", None) or allocated.parallelism  # what SQLMesh uses
        report = session_report(
            engine="sqlmesh",
            warehouse=warehouse,
            configured=allocated.session,
            read_back=read_back,
            parallelism={"concurrent_tasks": concurrent},
            source=allocated.source,
        )
        report_session(self, context, report)

    def _finish(
        self, result: dict[str, Any], recorder: Any, started: float, applied: bool, context: Any
    ) -> dict[str, Any]:
        result["models"] = recorder.as_dict()
        result["failed"] = recorder.failed()
        result["applied"] = applied
        result["duration_s"] = round(time.monotonic() - started, 3)
        if self.history and self.conn_id and context.get("ti") is not None:
            from airflow_provider_dualengine.monitoring.engine_records import (
                TaskRun,
                record_task_history,
                sqlmesh_records,
            )

            history, models = self.history, result["models"]
            record_task_history(
                self.conn_id,
                lambda: sqlmesh_records(TaskRun.from_context(context, history["environment"]), models),
                history.get("relations"),
                self.log,
            )
        if result["failed"]:
            summary = f"SQLMesh models failed in '{self.environment}': {', '.join(result['failed'])}; the environment was not updated"
            self.log.error(summary)
            for name in result["failed"]:
                self.log.error("%s: %s", name, result["models"][name]["error"])
            transient = all_transient(result["models"][name]["error"] for name in result["failed"])
            # A model task cannot rebuild its SQLMesh model: while a retry is left, this task fails for it.
            if transient and (self.fail_on_model_error or _retry_left(context)):
                raise SQLMeshModelsFailed(f"{summary} (a transient warehouse error: Airflow retries this stage)")
            if self.fail_on_model_error:
                raise SQLMeshModelsFailedNoRetry(summary)
        return result


class SQLMeshPlanOperator(_StageExecutor):
    """Plan and apply a SQLMesh project (or selected models) into an environment.

    "Nothing to change" is success (`has_changes: false`). With `fail_on_model_error=False`
    a failing model does not fail this task: its outcome goes to XCom for the model's own
    task to report (how the DAG factory renders per-model tasks).
    """

    custom_operator_name = "SQLMesh plan"

    template_fields: Sequence[str] = ("environment", "env", "select_models", "restate_models", "start", "end")

    def __init__(
        self,
        *,
        restate_models: list[str] | None = None,
        start: Any = None,
        end: Any = None,
        forward_only: bool = False,
        skip_tests: bool = False,
        include_unmodified: bool = True,
        apply: bool = True,
        **kwargs: Any,
    ):
        """:param apply: False only plans: the result lists the snapshots a plan would create
        and the intervals it would backfill (a deployment's cost estimate)."""
        super().__init__(**kwargs)
        self.apply = apply
        self.restate_models = restate_models
        self.start = start
        self.end = end
        self.forward_only = forward_only
        self.skip_tests = skip_tests
        self.include_unmodified = include_unmodified

    def execute(self, context: Any) -> dict[str, Any]:
        wait_while_deploying(self, context)
        from sqlmesh.utils.errors import NoChangesPlanError, PlanError

        from airflow_provider_dualengine.engines.sqlmesh.outcomes import OutcomeRecorder
        from airflow_provider_dualengine.engines.sqlmesh.plans import summarize_plan

        started, recorder = time.monotonic(), OutcomeRecorder()
        start, end = (
            self._interval(context, self.start, self.end) if self.environment != "prod" else (self.start, self.end)
        )
        with self.hook.context(console=recorder) as ctx:
            self._report_session(ctx, context)
            try:
                plan = ctx.plan(
                    self.environment,
                    select_models=list(self.select_models) if self.select_models else None,
                    restate_models=list(self.restate_models) if self.restate_models else None,
                    start=start,
                    end=end,
                    forward_only=self.forward_only,
                    skip_tests=self.skip_tests,
                    include_unmodified=self.include_unmodified,
                    no_prompts=True,
                    auto_apply=False,
                )
            except NoChangesPlanError:
                plan = None
            applied = False
            if plan is None:
                result: dict[str, Any] = {
                    "action": "plan",
                    "environment": self.environment,
                    "has_changes": False,
                    "new_snapshots": [],
                    "backfill": {},
                }
            else:
                result = {"action": "plan", **summarize_plan(plan)}
                self.log.info(
                    "SQLMesh plan for %s: new snapshots %s; backfill %s",
                    self.environment,
                    result["new_snapshots"] or "none",
                    result["backfill"] or "none",
                )
                if self.apply and (plan.has_changes or plan.requires_backfill):
                    try:
                        ctx.apply(plan)
                        applied = True
                    except PlanError as exc:
                        if not recorder.failed():
                            raise SQLMeshError(
                                f"SQLMesh could not apply the plan to '{self.environment}': {exc}"
                            ) from exc
        # After the Context: the run history goes through a session of our own, which the
        # engine's session settings (PGOPTIONS while the Context lives) do not reach.
        if plan is None:
            self.log.info("SQLMesh: nothing to change in environment %s", self.environment)
        return self._finish(result, recorder, started, applied, context)


class SQLMeshRunOperator(_StageExecutor):
    """Run the environment's due cron intervals. Fails when SQLMesh reports FAILURE
    (`Context.run` returns it without raising)."""

    custom_operator_name = "SQLMesh run"

    template_fields: Sequence[str] = ("environment", "env", "select_models", "start", "end", "execution_time")

    def __init__(
        self,
        *,
        start: Any = None,
        end: Any = None,
        execution_time: Any = None,
        ignore_cron: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.start = start
        self.end = end
        self.execution_time = execution_time
        self.ignore_cron = ignore_cron

    def execute(self, context: Any) -> dict[str, Any]:
        wait_while_deploying(self, context)
        from sqlmesh.core.scheduler import CompletionStatus

        from airflow_provider_dualengine.engines.sqlmesh.outcomes import OutcomeRecorder

        started, recorder = time.monotonic(), OutcomeRecorder()
        with self.hook.context(console=recorder) as ctx:
            self._report_session(ctx, context)
            status = ctx.run(
                self.environment,
                start=self.start,
                end=self.end,
                execution_time=self.execution_time,
                ignore_cron=self.ignore_cron,
                select_models=list(self.select_models) if self.select_models else None,
                skip_janitor=True,
            )
        result = {
            "action": "run",
            "environment": self.environment,
            "status": status.name.lower(),
            "has_changes": status == CompletionStatus.SUCCESS,
        }
        if status == CompletionStatus.FAILURE and not recorder.failed():
            raise SQLMeshError(f"SQLMesh run of '{self.environment}' reported FAILURE")
        self.log.info("SQLMesh run of %s: %s", self.environment, result["status"])
        return self._finish(result, recorder, started, applied=status != CompletionStatus.FAILURE, context=context)


class SQLMeshPromoteOperator(_SQLMeshOperator):
    """Promote what was validated in `source_environment` to prod: a view swap, nothing more.

    Refuses (fails) if the prod plan would create a snapshot or backfill an interval, or
    if the code no longer matches the validated environment.
    """

    custom_operator_name = "SQLMesh promote"

    template_fields: Sequence[str] = ("source_environment", "environment")

    def __init__(self, *, source_environment: str, environment: str = "prod", **kwargs: Any):
        super().__init__(environment=environment, **kwargs)
        self.source_environment = source_environment

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.engines.sqlmesh.names import plain_name
        from airflow_provider_dualengine.engines.sqlmesh.plans import environment_snapshot_ids
        from airflow_provider_dualengine.engines.sqlmesh.promotion import (
            PromotionRefused,
            PromotionWouldBackfill,
            promotable_plan,
        )

        started = time.monotonic()
        with self.hook.context() as ctx:
            before = environment_snapshot_ids(ctx, self.environment)
            try:
                plan = promotable_plan(ctx, self.source_environment, self.environment)
            except PromotionWouldBackfill as exc:
                raise SQLMeshPromotionWouldBackfill(str(exc)) from exc
            except PromotionRefused as exc:
                raise SQLMeshFailedNoRetry(str(exc)) from exc
            if plan is None:
                return {
                    "action": "promote",
                    "environment": self.environment,
                    "swapped": [],
                    "duration_s": round(time.monotonic() - started, 3),
                }
            planned = {plain_name(s.name): s.identifier for s in plan.environment.snapshots}
            ctx.apply(plan)
        swapped = sorted(m for m, sid in planned.items() if before.get(m) != sid)
        self.log.info("Promoted %s -> %s: %d views swapped", self.source_environment, self.environment, len(swapped))
        return {
            "action": "promote",
            "environment": self.environment,
            "source_environment": self.source_environment,
            "swapped": swapped,
            "duration_s": round(time.monotonic() - started, 3),
        }


class _ModelSelectingOperator(_SQLMeshOperator):
    """Shared by test, lint and audit: an optional list of models to work on."""

    template_fields: Sequence[str] = ("environment", "env", "select_models")

    def __init__(self, *, select_models: list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.select_models = select_models


class SQLMeshTestOperator(_ModelSelectingOperator):
    """SQLMesh unit tests as their own task; fails with the failing tests' names."""

    custom_operator_name = "SQLMesh unit tests"

    def execute(self, context: Any) -> dict[str, Any]:
        import io

        with self.hook.context() as ctx:
            stream = io.StringIO()
            result = ctx.test(model_names=self.select_models or None, stream=stream)
        failures = [str(test) for test, _ in [*result.failures, *result.errors]]
        self.log.info("SQLMesh unit tests: %d run, %d failed\n%s", result.testsRun, len(failures), stream.getvalue())
        if failures:
            raise SQLMeshFailedNoRetry(f"SQLMesh unit tests failed: {', '.join(failures)}")
        return {"action": "test", "tests_run": result.testsRun, "failed": failures}


class SQLMeshLintOperator(_ModelSelectingOperator):
    """SQLMesh's linter over the project (or selected models); fails on error-level rules."""

    custom_operator_name = "SQLMesh lint"

    def execute(self, context: Any) -> dict[str, Any]:
        from sqlmesh.utils.errors import LinterError

        with self.hook.context() as ctx:
            try:
                violations = ctx.lint_models(self.select_models or None, raise_on_error=True)
            except LinterError as exc:
                raise SQLMeshFailedNoRetry(f"SQLMesh lint failed: {exc}") from exc
        for violation in violations:
            self.log.warning("%s", violation)
        return {"action": "lint", "warnings": len(violations)}


class SQLMeshAuditOperator(_ModelSelectingOperator):
    """Run the models' audits over an interval (default: the run's data interval)."""

    custom_operator_name = "SQLMesh audit"

    template_fields: Sequence[str] = (*_ModelSelectingOperator.template_fields, "start", "end")

    def __init__(self, *, start: Any = None, end: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.start = start
        self.end = end

    def execute(self, context: Any) -> dict[str, Any]:
        start, end = self._interval(context, self.start, self.end)
        start = start or "2000-01-01"
        end = end or "now"
        with self.hook.context() as ctx:
            passed = ctx.audit(start=start, end=end, models=iter(self.select_models) if self.select_models else None)
        if not passed:
            raise SQLMeshFailedNoRetry(f"SQLMesh audits failed between {start} and {end}")
        return {"action": "audit", "passed": True, "start": str(start), "end": str(end)}


class SQLMeshCleanupOperator(_SQLMeshOperator):
    """Drop an environment (invalidate, then the janitor removes its views and expired tables)."""

    custom_operator_name = "SQLMesh cleanup"

    def execute(self, context: Any) -> dict[str, Any]:
        if self.environment == "prod":
            raise SQLMeshFailedNoRetry("refusing to invalidate the prod environment")
        with self.hook.context() as ctx:
            ctx.invalidate_environment(self.environment, sync=True)
            ctx.run_janitor(ignore_ttl=False)
        return {"action": "cleanup", "environment": self.environment}


def _retry_left(context: Any) -> bool:
    """Whether Airflow would retry this task if it failed now (a test's context may have no ti)."""
    ti = context.get("ti") if context else None
    return ti is not None and ti.try_number <= getattr(ti, "max_tries", 0)
