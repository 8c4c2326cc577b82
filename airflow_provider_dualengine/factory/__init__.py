"""The Airflow layer's entry point: the unified graph rendered as a DAG."""

from airflow_provider_dualengine.factory.dag_builder import build_dag
from airflow_provider_dualengine.factory.model_assets import model_assets

__all__ = ["build_dag", "model_assets"]
