"""Where alerts are evaluated: a last task of every pipeline run, and the monitor DAG.

The rules are read (and checked) while the DAG file is parsed, so a misspelt condition is
a DAG import error naming the file and key, not an alert that never fires. Without rules
no task is added: a project that does not alert pays nothing.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG

from airflow_provider_dualengine.config.monitoring import load_monitoring, monitoring_file
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.factory.config import ProjectConfig, ProjectDir
from airflow_provider_dualengine.factory.dag_defaults import new_dag, readable_import_errors

ALERTS_TASK_ID = "alerts"


def has_alert_rules(project: Project) -> bool:
    """True when monitoring.yml has rules; raises DualEngineConfigError for bad ones."""
    from airflow_provider_dualengine.monitoring.alert_rules import load_rules

    config = load_monitoring(project)
    return bool(load_rules(config.alerts, set(config.notifiers), monitoring_file(project)))


def render_run_alerts(project: Project, environment: str, pool_args: dict[str, Any]) -> Any:
    """The end-of-run evaluation: after every other task, whatever their outcome."""
    from airflow_provider_dualengine.operators.alerts import AlertEvaluationOperator

    # A teardown: it runs once everything else is done, whatever the outcome, and Airflow
    # leaves it out when it decides the run's state (a failed model still fails the run).
    return AlertEvaluationOperator(
        task_id=ALERTS_TASK_ID,
        project_dir=str(project.root),
        environment=environment,
        run_scoped=True,
        retries=0,
        doc_md="Alert rules of monitoring.yml on this run's executions (docs/monitoring.md).",
        **pool_args,
    ).as_teardown()


def build_monitor_dag(
    project: ProjectConfig | ProjectDir | None = None,
    *,
    dag_id: str | None = None,
    schedule: Any = "@hourly",
    start_date: Any = None,
    days: int = 30,
    **dag_kwargs: Any,
) -> DAG:
    """A DAG that evaluates the alert rules over the last `days` on a schedule: what no
    single pipeline run sees (deployments, lags between DAGs, daily cost, error rates).

    :param project: the project folder, or a `ProjectConfig` (whose environment is watched).
    :param days: how far back baselines and daily costs look."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.operators.alerts import AlertEvaluationOperator

    source = ProjectConfig.of(project)
    with readable_import_errors():
        loaded = load_project(source.project_dir)
        env = loaded.environment(source.environment)
        has_alert_rules(loaded)  # a broken rule is an import error here too
    dag = new_dag(
        dag_id or f"dualengine_{loaded.settings.name}_{env.name}_monitor",
        schedule=schedule,
        start_date=start_date,
        tags=["sqlmesh", "dbt", env.name, "monitoring"],
        doc_md=f"Alert rules of `{monitoring_file(loaded)}` on the last {days} days of `{env.name}`.",
        **dag_kwargs,
    )
    with dag:
        writer_pool = loaded.settings.warehouse.writer_pool
        AlertEvaluationOperator(
            task_id=ALERTS_TASK_ID,
            project_dir=str(loaded.root),
            environment=env.name,
            run_scoped=False,
            days=days,
            **({"pool": writer_pool} if writer_pool else {}),
        )
    return dag
