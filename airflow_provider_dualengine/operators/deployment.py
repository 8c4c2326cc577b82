"""Operators of the deploy DAG: start, integration validation, promotion, conclusion, rollback.

Each is a thin shell over `deployments/coordinator.py`. A task that blocks a deployment
logs one line first (`DEPLOYMENT BLOCKED: ...`) and hands the same line to `conclude`
through XCom (`blocked_reason`), which writes it into the deployment record. The line is
redacted of the warehouse connection's secrets first: it often quotes a driver's error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from airflow.sdk import BaseOperator

START_TASK_ID = "prepare"
LEASE_TTL_S = 2 * 3600.0  # a deployment's lease outlives its longest task by far (renewed at each task start)


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
        """Log the reason (redacted) as the first line, hand it to `conclude`, and fail the task
        without a retry: what a blocked deployment does next is for a human to decide."""
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked

        class DeploymentBlockedNoRetry(DeploymentBlocked, AirflowFailException):
            """A DeploymentBlocked to callers; to Airflow, a failure never retried."""

        reason = (site or self.site).redact(reason)
        self.log.error("DEPLOYMENT BLOCKED: %s", reason)
        context["ti"].xcom_push(key="blocked_reason", value=reason)
        raise DeploymentBlockedNoRetry(reason) from cause


class DeploymentStartOperator(_DeploymentOperator):
    """Take the environment's deployment lease, open the deployment record, choose the idle
    dbt slot, save prod for rollback. Another deployment of the environment in progress
    fails this task at once (no retry), naming it; nothing is changed."""

    custom_operator_name = "Deployment: prepare"

    def __init__(self, *, lease_ttl_s: float = LEASE_TTL_S, **kwargs: Any):
        super().__init__(**kwargs)
        self.lease_ttl_s = lease_ttl_s

    def execute(self, context: Any) -> dict[str, Any]:
        from datetime import timedelta

        from airflow_provider_dualengine.deployments.coordinator import start
        from airflow_provider_dualengine.deployments.lease import DeploymentInProgress

        dag_run = context["dag_run"]
        who = getattr(dag_run, "triggering_user_name", None) or f"{dag_run.run_type}:{dag_run.run_id}"
        site = self.site
        try:
            started = start(
                site, str(who), self.log, f"{dag_run.dag_id}/{dag_run.run_id}", timedelta(seconds=self.lease_ttl_s)
            )
        except DeploymentInProgress as exc:
            self.blocked(context, str(exc), exc, site)
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
        from airflow_provider_dualengine.deployments.coordinator import validate_integration
        from airflow_provider_dualengine.deployments.integration import Thresholds
        from airflow_provider_dualengine.deployments.saved import RecordRefused

        site = self.site
        try:
            findings = validate_integration(site, self.deployment_id(context), Thresholds(**self.thresholds))
        except RecordRefused as exc:
            self.blocked(context, str(exc), exc, site)
        for finding in findings:
            (self.log.info if finding.passed else self.log.error)(
                "%-22s %-40s %s", finding.check, finding.model, finding.message
            )
        failed = [f for f in findings if not f.passed]
        if failed:
            first = failed[0]
            more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
            self.blocked(
                context,
                f"integration validation failed: {first.check} of {first.model}: {first.message}{more}",
                site=site,
            )
        return {"checks": len(findings), "failed": 0}


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
    """Runs whatever happened before it: finds the failure point (deployments/failure_points.py)
    and concludes the deployment: the rollback plan for that point, recorded and applied,
    prod verified against its checksums from before, the record closed."""

    custom_operator_name = "Deployment: conclude"

    def execute(self, context: Any) -> str:
        from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, conclude
        from airflow_provider_dualengine.deployments.failure_points import failure_point

        ti, dag_run = context["ti"], context["dag_run"]
        states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
        deployment_id = self.deployment_id(context)
        if deployment_id is None:
            why = ti.xcom_pull(task_ids=START_TASK_ID, key="blocked_reason") or "task 'prepare' failed (see its log)"
            raise DeploymentBlocked(f"the deployment never started: {why}; nothing was built, prod untouched")
        point, task = failure_point(states)
        reason = ""
        if point:
            reason = ti.xcom_pull(task_ids=task, key="blocked_reason") or f"task {task} failed (see its log)"
        summary = conclude(self.site, deployment_id, point, reason, self.log)
        if point:
            raise DeploymentBlocked(f"deployment {deployment_id} {summary}")
        self.log.info("Deployment %s %s", deployment_id, summary)
        return summary


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


class RenewDeploymentLease:
    """A deploy task's `on_execute_callback`: renew the deployment's lease as the task starts,
    so a live deployment never looks abandoned. Airflow only logs a callback's failure (a
    lease lost to another deployment after it expired): `promote` and `conclude` check the
    lease themselves before they touch prod."""

    def __init__(self, project_dir: str, environment: str, lease_ttl_s: float = LEASE_TTL_S):
        self.project_dir = project_dir
        self.environment = environment
        self.lease_ttl_s = lease_ttl_s

    def __call__(self, context: Any) -> None:
        from datetime import timedelta

        from airflow_provider_dualengine.deployments.coordinator import DeploymentSite, renew_lease

        deployment_id = context["ti"].xcom_pull(task_ids=START_TASK_ID, key="deployment_id")
        if deployment_id:
            site = DeploymentSite.of(self.project_dir, self.environment)
            renew_lease(site, deployment_id, timedelta(seconds=self.lease_ttl_s))
