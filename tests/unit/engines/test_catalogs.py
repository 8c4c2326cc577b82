"""Model lists as the factory sees them: from the compiled artifact, never the engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.compiled import ArtifactProblem, ArtifactVersionError, read_artifact
from airflow_provider_dualengine.compiled.document import SQLMeshSection
from airflow_provider_dualengine.config import load_project
from airflow_provider_dualengine.engines.dbt.catalog import dbt_catalog_from_manifest


def test_compiled_sqlmesh_models_kinds_and_dependencies(example_project: Path) -> None:
    artifact = read_artifact(load_project(example_project))
    catalog = artifact.sqlmesh.catalog(example_project / "sqlmesh")
    assert {name: (m.kind, m.depends_on) for name, m in catalog.models.items()} == {
        "raw.raw_customers": ("SEED", ()),
        "raw.raw_orders": ("SEED", ()),
        "staging.stg_orders": ("INCREMENTAL_BY_TIME_RANGE", ("raw.raw_orders",)),
        "staging.customer_enhanced": ("FULL", ("raw.raw_customers", "staging.stg_orders")),
        "intermediate.customer_lifetime": ("FULL", ("staging.customer_enhanced", "staging.stg_orders")),
        "reporting.value_band_summary": ("FULL", ()),  # reads the dbt mart, not a SQLMesh model
    }
    assert catalog.models["reporting.value_band_summary"].reads_tables == ("analytics.customer_value",)
    assert catalog.models["staging.customer_enhanced"].columns == {
        "customer_id": "INT",
        "customer_name": "TEXT",
        "customer_tier": "TEXT",
        "customer_score": "DOUBLE",
    }
    assert catalog.models["staging.stg_orders"].cron == "@daily"
    assert artifact.sqlmesh.models["staging.customer_enhanced"].python is True


def test_resolution_by_short_name_and_ambiguity(tmp_path: Path) -> None:
    model = {"kind": "FULL", "depends_on": [], "columns": {}}
    sqlmesh = SQLMeshSection.model_validate({"models": {"a.orders": model, "b.orders": model, "a.customers": model}})
    catalog = sqlmesh.catalog(tmp_path)
    assert catalog.resolve("customers")[0].name == "a.customers"
    found, reason = catalog.resolve("orders")
    assert found is None and "ambiguous" in reason and "a.orders, b.orders" in reason


def test_dbt_models_from_manifest(example_project: Path) -> None:
    catalog = dbt_catalog_from_manifest(example_project / "dbt" / "target" / "manifest.json")
    assert sorted(catalog.models) == [
        "customer_order_summary",
        "customer_value",
        "stg_completed_orders",
        "stg_customers",
    ]
    assert catalog.models["customer_value"].unique_id == "model.shop.customer_value"
    assert catalog.models["customer_value"].kind == "table"
    assert catalog.models["customer_order_summary"].depends_on == ("stg_completed_orders", "stg_customers")


def test_stale_artifact_is_detected(project_copy: Path) -> None:
    project = load_project(project_copy)
    assert read_artifact(project).format_version == 1
    model = project_copy / "sqlmesh" / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    with pytest.raises(ArtifactProblem, match="stale"):
        read_artifact(project)


def test_artifact_of_another_version_is_refused(project_copy: Path) -> None:
    project = load_project(project_copy)
    data = json.loads(project.artifact_path.read_text())
    project.artifact_path.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(ArtifactVersionError, match="format version 99, written by a newer") as raised:
        read_artifact(project)
    assert isinstance(raised.value, ArtifactProblem)  # recompiling (ensure_compiled) cures it
    assert [(i.file, i.key) for i in raised.value.issues] == [(project.artifact_path, "version")]


def test_artifact_records_cross_engine_edges(example_project: Path) -> None:
    artifact = read_artifact(load_project(example_project))
    edges = artifact.to_json()["cross_engine_edges"]
    assert {"from": "sqlmesh:staging.stg_orders", "to": "dbt:stg_completed_orders", "via": "source"} in edges
    assert {"from": "sqlmesh:intermediate.customer_lifetime", "to": "dbt:customer_value", "via": "ref"} in edges
    assert {"from": "dbt:customer_value", "to": "sqlmesh:reporting.value_band_summary", "via": "table"} in edges
    assert len(artifact.cross_engine_edges) == 4


@pytest.mark.slow
def test_opt_in_compile_rebuilds_a_stale_artifact_at_parse(project_copy: Path) -> None:
    from airflow_provider_dualengine import ProjectConfig, build_dag
    from airflow_provider_dualengine.config import DualEngineConfigError

    model = project_copy / "sqlmesh" / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    with pytest.raises(DualEngineConfigError, match="stale"):
        build_dag(project_copy)
    dag = build_dag(ProjectConfig(project_copy, compile_if_stale=True))
    assert "stage_1_sqlmesh.sqlmesh.staging__stg_orders" in dag.task_ids
    assert read_artifact(load_project(project_copy)).format_version == 1  # fresh again
