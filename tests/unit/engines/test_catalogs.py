"""Model discovery without loading the engines."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dualengine.engines.dbt.catalog import dbt_catalog_from_manifest
from airflow_provider_dualengine.engines.sqlmesh.catalog import scan_sqlmesh_project


def test_sqlmesh_models_and_kinds_from_files(example_project: Path) -> None:
    catalog = scan_sqlmesh_project(example_project / "sqlmesh")
    assert {name: m.kind for name, m in catalog.models.items()} == {
        "raw.raw_customers": "SEED",
        "raw.raw_orders": "SEED",
        "staging.stg_orders": "INCREMENTAL_BY_TIME_RANGE",
        "staging.customer_enhanced": "FULL",
        "intermediate.customer_lifetime": "FULL",
    }


def test_sqlmesh_scanner_ignores_commented_names_and_reads_python_models(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.sql").write_text("-- MODEL (name wrong.one)\nMODEL (\n  kind INCREMENTAL_BY_UNIQUE_KEY (unique_key id),\n  name sales.orders\n);\nSELECT 1 AS id")
    (models / "b.py").write_text("from sqlmesh import model\n@model('sales.scored', kind=dict(name='FULL'), columns={'id': 'int'})\ndef execute(context, **kw):\n    return None\n")
    (models / "not_a_model.sql").write_text("SELECT 1")
    catalog = scan_sqlmesh_project(tmp_path)
    assert {n: m.kind for n, m in catalog.models.items()} == {"sales.orders": "INCREMENTAL_BY_UNIQUE_KEY", "sales.scored": "FULL"}


def test_resolution_by_short_name_and_ambiguity(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for schema in ("a", "b"):
        (models / f"{schema}.sql").write_text(f"MODEL (name {schema}.orders); SELECT 1")
    (models / "c.sql").write_text("MODEL (name a.customers); SELECT 1")
    catalog = scan_sqlmesh_project(tmp_path)
    assert catalog.resolve("customers")[0].name == "a.customers"
    found, reason = catalog.resolve("orders")
    assert found is None and "ambiguous" in reason and "a.orders, b.orders" in reason


def test_dbt_models_from_manifest(example_project: Path) -> None:
    catalog = dbt_catalog_from_manifest(example_project / "dbt" / "target" / "manifest.json")
    assert sorted(catalog.models) == ["customer_order_summary", "customer_value", "stg_completed_orders", "stg_customers"]
    assert catalog.models["customer_value"].unique_id == "model.shop.customer_value"
    assert catalog.models["customer_value"].kind == "table"
