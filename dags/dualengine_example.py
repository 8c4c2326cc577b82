"""The example shop pipeline: SQLMesh and dbt stages from transforms/config/dependency_graph.yml."""

import os
from pathlib import Path

from airflow_provider_dualengine import build_dag

dag = build_dag(os.environ.get("DUALENGINE_PROJECT_DIR") or Path(__file__).resolve().parents[1] / "transforms")
