"""Each engine's Airflow pool kept at the allocation of the current execution window
(transforms/config/resources.yml), re-applied at every window start through the REST API."""

import os
from pathlib import Path

from airflow_provider_dualengine import build_resources_dag

resources = build_resources_dag(
    os.environ.get("DUALENGINE_PROJECT_DIR") or Path(__file__).resolve().parents[1] / "transforms"
)
