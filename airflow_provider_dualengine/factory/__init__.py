"""The Airflow layer's entry point: the unified graph rendered as a DAG."""

from airflow_provider_dualengine.factory.dag_builder import build_dag

__all__ = ["build_dag"]
