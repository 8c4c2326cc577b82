"""Fixtures shared by the end-to-end tests: the example project on DuckDB or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouses import Warehouse, duckdb_warehouse, postgres_warehouse


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata_db) -> Warehouse:
    from airflow_provider_dualengine.cli.local_airflow import ensure_pool

    if request.param == "duckdb":
        wh = duckdb_warehouse(tmp_path / "warehouse" / "shop.duckdb")
    else:
        server, dbname = request.getfixturevalue("postgres_database")
        wh = postgres_warehouse(server, dbname)
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", wh.env_json())
    ensure_pool("dualengine_warehouse")
    return wh


@pytest.fixture
def shop(project_copy: Path, warehouse: Warehouse) -> Path:
    if warehouse.kind == "postgres":
        settings = project_copy / "dualengine.yml"
        settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    return project_copy
