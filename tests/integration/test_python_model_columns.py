"""A Python model whose DataFrame lacks a declared column fails with a clear message,
through the real SQLMeshPlanOperator, on a real DuckDB file and a real PostgreSQL database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator
from tests.warehouses import Warehouse, duckdb_warehouse, postgres_warehouse

pytestmark = pytest.mark.slow

CONN_ID = "columns_warehouse"
STAGE_1 = ["raw.raw_customers", "raw.raw_orders", "staging.stg_orders", "staging.customer_enhanced"]
RETURNED = 'out = df[["customer_id", "customer_name", "customer_tier", "customer_score"]].copy()'


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    if request.param == "duckdb":
        wh = duckdb_warehouse(tmp_path / "warehouse" / "shop.duckdb")
    else:
        wh = postgres_warehouse(*request.getfixturevalue("postgres_database"))
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", wh.env_json())
    return wh


@pytest.fixture
def broken_project(example_project: Path, tmp_path: Path) -> Path:
    """The SQLMesh project with customer_enhanced returning no `customer_tier`."""
    project = tmp_path / "transforms" / "sqlmesh"
    shutil.copytree(
        example_project / "sqlmesh", project, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache", "reporting")
    )
    model = project / "models" / "shared" / "customer_enhanced.py"
    source = model.read_text()
    assert RETURNED in source
    model.write_text(source.replace(RETURNED, RETURNED.replace('"customer_tier", ', "")))
    return project


def test_missing_declared_column_fails_the_model_clearly_and_writes_nothing(
    broken_project: Path, warehouse: Warehouse
) -> None:
    result = SQLMeshPlanOperator(
        task_id="plan",
        project_path=str(broken_project),
        environment="dev",
        conn_id=CONN_ID,
        select_models=STAGE_1,
        skip_tests=True,
        fail_on_model_error=False,
    ).execute({})

    assert result["failed"] == ["staging.customer_enhanced"]
    assert result["models"]["staging.stg_orders"]["status"] == "success"
    error = result["models"]["staging.customer_enhanced"]["error"]
    assert error.startswith(
        "PythonModelColumnsMismatch: Python model staging.customer_enhanced returned a DataFrame "
        "without declared column(s): missing `customer_tier`."
    )
    assert "declared in @model(columns=...): customer_id, customer_name, customer_tier, customer_score" in error
    assert "returned by the DataFrame: customer_id, customer_name, customer_score" in error
    assert f"Fix in {broken_project / 'models' / 'shared' / 'customer_enhanced.py'}: " in error
    assert "Binder Error" not in error

    # no rows anywhere for the model: PostgreSQL rolls the empty physical table back, DuckDB
    # (no transactions in SQLMesh) keeps the empty table it created before evaluating
    tables = [t for t in warehouse.physical_tables() if "customer_enhanced" in t]
    assert len(tables) == (1 if warehouse.kind == "duckdb" else 0)
    assert all(warehouse.scalar(f"SELECT count(*) FROM {t}") == 0 for t in tables)
    assert not {v for v in warehouse.views() if v.endswith(".customer_enhanced")}
    # the models before it were built (into their physical tables; the failed plan left `dev` as it was)
    (stg_orders,) = [t for t in warehouse.physical_tables() if "stg_orders" in t]
    assert warehouse.scalar(f"SELECT count(*) FROM {stg_orders}") == 1000
