"""Operators of the deploy DAG: start, integration validation, promotion, conclusion, rollback.

Each is a thin shell over `deployments/coordinator.py`. A task that blocks a deployment
logs one line first (`DEPLOYMENT BLOCKED: ...`) and hands the same line to `conclude`
through XCom (`blocked_reason`), which writes it into the deployment record. The line is
redacted of the warehouse connection's secrets first: it often quotes a driver's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

from airflow.sdk import BaseOperator

START_TASK_ID = "prepare"
STAGE_GROUPS = {
    "validation": "validation",
    "integration_validation": "integration_validation",
    "promotion": "production_promotion",
}


class _DeploymentOperator(BaseOperator):
    template_fields: Sequence[str] = ()
    ui_color = "#0f766e"
    ui_fgcolor = "#ffffff"

    def __init__(self, *, project_dir: str, environment: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.environment = environment

    @property
    def site(self) -> Any:
        from airflow_provider_dualengine.deployments.coordinator import DeploymentSite

        return DeploymentSite.of(self.project_dir, self.environment)

    def deployment_id(self, context: Any) -> str:
        return context["ti"].xcom_pull(task_ids=START_TASK_ID, key="deployment_id")

    def blocked(self, context: Any, reason: str, cause: BaseException | None = None, site: Any = None) -> NoReturn:
        """Log the reason (redacted) as the first line, hand it to `conclude`, and fail the task."""
        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked

        reason = (site or self.site).redact(reason)
        self.log.error("DEPLOYMENT BLOCKED: %s", reason)
        context["ti"].xcom_push(key="blocked_reason", value=reason)
        raise DeploymentBlocked(reason) from cause


class DeploymentStartOperator(_DeploymentOperator):
    """Open the deployment record, choose the idle dbt slot, save prod for rollback."""

    custom_operator_name = "Deployment: prepare"

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.deployments.coordinator import start

        dag_run = context["dag_run"]
        who = getattr(dag_run, "triggering_user_name", None) or f"{dag_run.run_type}:{dag_run.run_id}"
        started = start(self.site, str(who), self.log)
        for key, value in started.items():
            context["ti"].xcom_push(key=key, value=value)
        return started


class IntegrationValidationOperator(_DeploymentOperator):
    """Green against prod: columns, types, row counts, distributions, referential
    integrity across engines, execution time against the previous deployment."""

    custom_operator_name = "Deployment: integration validation"

    def __init__(self, *, thresholds: dict[str, float] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.thresholds = dict(thresholds or {})

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.deployments import records, saved
        from airflow_provider_dualengine.deployments.integration import Thresholds, validate
        from airflow_provider_dualengine.deployments.plan import deployed_models
        from airflow_provider_dualengine.graph import build_graph

        site, deployment_id = self.site, self.deployment_id(context)
        limits = Thresholds(**self.thresholds)
        graph = build_graph(load_project(self.project_dir))
        started = datetime.now(UTC)
        with site.cursor() as cursor:
            record = records.get(cursor, site.dialect, deployment_id)
            try:
                slot = saved.dbt_slot(record["details"], site, deployment_id)
            except saved.RecordRefused as exc:
                self.blocked(context, str(exc), exc, site)
            models = deployed_models(graph, site.sqlmesh_environment, site.dbt_live_schema, slot)
            edges = [(e.upstream[1], e.downstream[1]) for e in graph.models_graph.cross_engine_edges()]
            findings = validate(cursor, site.dialect, models, edges, limits)
            staging_s = (started - record["started_at"]).total_seconds()
            previous = records.last_succeeded(cursor, site.dialect, site.environment)
            findings.append(
                _duration_finding(
                    staging_s, saved.number(((previous or {}).get("details") or {}).get("staging_seconds")), limits
                )
            )
            failed = [f for f in findings if not f.passed]
            writer = site.writer(cursor)
            writer.update(
                deployment_id, staging_seconds=round(staging_s, 1), integration=[f.as_dict() for f in findings]
            )
            writer.stage(
                deployment_id,
                "integration_validation",
                "failed" if failed else "passed",
                started,
                datetime.now(UTC),
                "; ".join(f"{f.model}: {f.message}" for f in failed),
            )
        for finding in findings:
            (self.log.info if finding.passed else self.log.error)(
                "%-22s %-40s %s", finding.check, finding.model, finding.message
            )
        if failed:
            first = failed[0]
            more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
            self.blocked(
                context,
                f"integration validation failed: {first.check} of {first.model}: {first.message}{more}",
                site=site,
            )
        return {"checks": len(findings), "failed": 0}


def _duration_finding(staging_s: float, previous_s: float | None, limits: Any) -> Any:
    from airflow_provider_dualengine.deployments.integration import Finding

    if previous_s is None:
        return Finding(
            "execution_time", "(deployment)", True, f"built in {staging_s:.0f} s; no previous deployment to compare"
        )
    allowed = previous_s * limits.duration_factor + limits.duration_grace_s
    return Finding(
        "execution_time",
        "(deployment)",
        staging_s <= allowed,
        f"built in {staging_s:.0f} s vs {previous_s:.0f} s last time (allowed {allowed:.0f} s)",
    )


class DualEnginePromoteOperator(_DeploymentOperator):
    """SQLMesh's view swap and dbt's slot switch in one warehouse transaction."""

    custom_operator_name = "Deployment: promote both engines"

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, promote

        site = self.site
        try:
            return promote(site, self.deployment_id(context), self.log)
        except DeploymentBlocked as exc:
            self.blocked(context, str(exc), exc, site)


class DeploymentConcludeOperator(_DeploymentOperator):
    """Runs whatever happened before it: finds the failure point, rolls back as the deployment's
    table says, verifies prod against its checksums from before, closes the record."""

    custom_operator_name = "Deployment: conclude"

    def execute(self, context: Any) -> str:
        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, conclude

        ti, dag_run = context["ti"], context["dag_run"]
        states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
        deployment_id = self.deployment_id(context)
        if deployment_id is None:
            raise DeploymentBlocked(
                "the deployment never started (task 'prepare' failed): nothing was built, prod untouched"
            )
        point, task = failure_point(states)
        reason = ""
        if point:
            reason = ti.xcom_pull(task_ids=task, key="blocked_reason") or f"task {task} failed (see its log)"
        summary = conclude(self.site, deployment_id, point, reason, self.log)
        if point:
            raise DeploymentBlocked(f"deployment {deployment_id} {summary}")
        self.log.info("Deployment %s %s", deployment_id, summary)
        return summary


def failure_point(states: dict[str, Any]) -> tuple[str | None, str | None]:
    """(failure point, first failed task) from the run's task states, pipeline order."""
    from airflow_provider_dualengine.deployments.coordinator import FAILURE_POINTS

    failed = sorted(t for t, s in states.items() if str(s) == "failed")
    found: dict[str, str] = {}
    for task in failed:
        group = task.split(".", 1)[0]
        if group == "staging_deployment":
            point = (
                "integration_validation"
                if ".contract__" in task
                else "dbt_deployment"
                if ".dbt." in task
                else "sqlmesh_deployment"
            )
        else:
            point = STAGE_GROUPS.get(group)
        if point:
            found.setdefault(point, task)
    for point in FAILURE_POINTS:
        if point in found:
            return point, found[point]
    return None, None


class DualEngineRollbackOperator(_DeploymentOperator):
    """Return both engines to the state before the last successful deployment."""

    custom_operator_name = "Deployment: rollback"

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, rollback_last

        dag_run = context["dag_run"]
        who = getattr(dag_run, "triggering_user_name", None) or f"{dag_run.run_type}:{dag_run.run_id}"
        try:
            result = rollback_last(self.site, str(who))
        except DeploymentBlocked as exc:
            self.log.error("ROLLBACK BLOCKED: %s", exc)
            raise
        self.log.info("%s", result["summary"])
        return result
