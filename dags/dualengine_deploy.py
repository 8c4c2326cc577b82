"""Blue-green deployment of the example shop project to production, and its manual rollback."""

import os
from pathlib import Path

from airflow_provider_dualengine import ProjectConfig, build_deploy_dag, build_rollback_dag

project = ProjectConfig(
    os.environ.get("DUALENGINE_PROJECT_DIR") or Path(__file__).resolve().parents[1] / "transforms",
    environment="production",
)
deploy = build_deploy_dag(project)
rollback = build_rollback_dag(project)
