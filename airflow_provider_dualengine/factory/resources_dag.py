"""build_resources_dag(): a DAG that keeps the cluster's engine pools at the current
execution window's allocation, run at every window boundary (and by hand after editing
resources.yml). Without windows it still applies the fixed allocation when triggered."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG

from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.config.resources import load_resources
from airflow_provider_dualengine.factory.config import ProjectConfig, ProjectDir
from airflow_provider_dualengine.factory.dag_defaults import new_dag, readable_import_errors
from airflow_provider_dualengine.operators.resources import ApplyResourcesOperator
from airflow_provider_dualengine.resources.timetable import WindowBoundariesTimetable


def build_resources_dag(
    project: ProjectConfig | ProjectDir | None = None,
    *,
    dag_id: str | None = None,
    airflow_api_conn_id: str = "dualengine_airflow_api",
    **dag_kwargs: Any,
) -> DAG:
    source = ProjectConfig.of(project)
    with readable_import_errors():
        loaded = load_project(source.project_dir)
        spec = load_resources(loaded)
    schedule = spec.execution_schedule
    timetable = (
        WindowBoundariesTimetable(schedule.timezone, [w.start_s for w in schedule.windows()]) if schedule else None
    )
    dag = new_dag(
        dag_id or f"dualengine_{loaded.settings.name}_resources",
        schedule=timetable,
        tags=["resources", f"dualengine:{loaded.settings.name}"],
        doc_md="Sets each engine's Airflow pool to its share of the warehouse for the execution window that starts (config/resources.yml; docs/resources.md).",
        **dag_kwargs,
    )
    with dag:
        ApplyResourcesOperator(
            task_id="apply_pools", project_dir=str(loaded.root), airflow_api_conn_id=airflow_api_conn_id, retries=2
        )
    return dag
