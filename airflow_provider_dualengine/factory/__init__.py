"""The Airflow layer's entry point: the unified graph rendered as DAGs."""

from airflow_provider_dualengine.factory.dag_builder import build_dag
from airflow_provider_dualengine.factory.deploy_dag import build_deploy_dag, build_rollback_dag
from airflow_provider_dualengine.factory.model_assets import model_assets
from airflow_provider_dualengine.factory.monitoring_tasks import build_monitor_dag
from airflow_provider_dualengine.factory.resources_dag import build_resources_dag

__all__ = [
    "build_dag",
    "build_deploy_dag",
    "build_monitor_dag",
    "build_resources_dag",
    "build_rollback_dag",
    "model_assets",
]
