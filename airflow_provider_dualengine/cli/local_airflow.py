"""A self-contained local Airflow (metadata DB, pool, warehouse connection) for the demo and tests.

Airflow reads its configuration at import time, so `configure_environment` must run
before anything imports airflow in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def configure_environment(home: Path, dags_folder: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder.resolve()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
            # Cosmos telemetry calls out to the internet on every run; keep local runs offline.
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        }
    )


def migrate_metadata_db() -> None:
    """`airflow db migrate` in a child process (idempotent, ~4 s on sqlite)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")


def register_duckdb_warehouse(conn_id: str, database: Path) -> None:
    """Expose the DuckDB file as an Airflow connection through the environment."""
    database.parent.mkdir(parents=True, exist_ok=True)
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "duckdb", "host": str(database.resolve())})


def ensure_pool(name: str, slots: int = 1) -> None:
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(
        name, slots=slots, description="dualengine: DuckDB single writer", include_deferred=False
    )
