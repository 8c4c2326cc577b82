"""Airflow provider that runs SQLMesh and dbt side by side as one platform.

Layers, in the order data flows: ``config`` (the user's YAML into validated
models) -> ``graph`` (one engine-neutral graph of stages and models) -> ``factory``
(Airflow rendering) -> ``operators``/``hooks``/``sensors`` -> ``engines`` (SQLMesh, dbt).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "DbtExecution",
    "ExecutionConfig",
    "ProjectConfig",
    "RenderConfig",
    "SQLMeshAction",
    "__version__",
    "build_dag",
    "build_deploy_dag",
    "build_monitor_dag",
    "build_resources_dag",
    "build_rollback_dag",
    "model_assets",
]
_CONFIG = ("DbtExecution", "ExecutionConfig", "ProjectConfig", "RenderConfig", "SQLMeshAction")


def __getattr__(name: str):
    # Lazy so that `import airflow_provider_dualengine` (provider discovery) stays cheap.
    if name in ("build_dag", "build_deploy_dag", "build_monitor_dag", "build_resources_dag", "build_rollback_dag"):
        from airflow_provider_dualengine import factory

        return getattr(factory, name)
    if name in _CONFIG:
        from airflow_provider_dualengine.factory import config

        return getattr(config, name)
    if name == "model_assets":
        from airflow_provider_dualengine.factory.model_assets import model_assets

        return model_assets
    raise AttributeError(name)
