"""A real Airflow cluster for the end-to-end tests: the provider's wheel in a fresh venv
(`install`), its servers and processes (`processes`), the cluster and its REST API
(`airflow_cluster`). Used by tests/e2e/on_cluster/ (one cluster for the package); tests/static
checks that the Docker image installs the same wheel with the same requirements."""

from tests.cluster.airflow_cluster import AirflowCluster, ClusterError, DagRunResult, TaskRun
from tests.cluster.install import (
    REQUIREMENTS,
    WHEEL_EXTRAS,
    ClusterVenv,
    build_wheel,
    install_cluster_venv,
    wheel_top_level,
)

__all__ = [
    "AirflowCluster",
    "ClusterError",
    "ClusterVenv",
    "DagRunResult",
    "REQUIREMENTS",
    "TaskRun",
    "WHEEL_EXTRAS",
    "build_wheel",
    "install_cluster_venv",
    "wheel_top_level",
]
