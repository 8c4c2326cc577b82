"""SQLMeshPlanOperator against real SQLMesh and a real DuckDB file (no Airflow scheduler)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator

STAGE_1 = ["raw.raw_customers", "raw.raw_orders", "staging.stg_orders", "staging.customer_enhanced"]


def _operator(project: Path, **kwargs) -> SQLMeshPlanOperator:
    return SQLMeshPlanOperator(
        task_id="plan",
        project_path=str(project / "sqlmesh"),
        environment="dev",
        conn_id="dualengine_warehouse",
        **kwargs,
    )


def _other_process_can_write(path: Path) -> bool:
    code = f"import duckdb; duckdb.connect({str(path)!r}).execute('CREATE TABLE IF NOT EXISTS lock_probe(x INT)')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.mark.slow
def test_plan_selected_models_then_nothing_to_do(example_project: Path, duckdb_warehouse: Path) -> None:
    first = _operator(example_project, select_models=STAGE_1).execute({})
    assert first["environment"] == "dev" and first["has_changes"] is True
    assert set(first["new_snapshots"]) == set(STAGE_1)
    assert first["backfill"]["staging.stg_orders"]["from"] == "2024-01-01"
    # connections released: another process can take DuckDB's write lock right away
    assert _other_process_can_write(duckdb_warehouse)

    with duckdb.connect(str(duckdb_warehouse)) as db:
        views = {
            r[0]
            for r in db.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'VIEW'"
            ).fetchall()
        }
        assert {"staging__dev.stg_orders", "staging__dev.customer_enhanced", "raw__dev.raw_orders"} <= views
        assert "intermediate__dev.customer_lifetime" not in views  # not selected
        assert db.execute("SELECT count(*) FROM staging__dev.stg_orders").fetchone()[0] == 1000

    again = _operator(example_project, select_models=STAGE_1).execute({})
    assert again["has_changes"] is False and again["new_snapshots"] == [] and again["backfill"] == {}
