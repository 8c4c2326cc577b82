"""Tiny dual-engine projects built by hand: a few models, no engine involved.

`catalogs()` gives the two model lists the compiled artifact yields; `write_project()`
puts a whole project on disk (settings, dependency graph, dbt manifest, and a fresh
artifact of the kind `dualengine compile` writes) for commands that load a project.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_dualengine.compiled.document import ARTIFACT_VERSION
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog
from airflow_provider_dualengine.graph.lineage import build_model_graph
from airflow_provider_dualengine.graph.model import UnifiedGraph

# raw.orders -> staging.orders -(dbt source)-> mart -(table)-> reporting.summary;
# staging.customers and dbt's customers share a short name.
SQLMESH_MODELS: dict[str, dict[str, Any]] = {
    "raw.orders": {"kind": "SEED", "depends_on": [], "columns": {"id": "INT", "amount": "DOUBLE"}},
    "staging.orders": {
        "kind": "FULL",
        "depends_on": ["raw.orders"],
        "columns": {"id": "INT", "amount": "DOUBLE"},
        "audits": ["not_null_id"],
        "column_lineage": {"amount": ["raw.orders.amount"]},
    },
    "staging.customers": {"kind": "FULL", "depends_on": [], "columns": {"id": "INT"}},
    "reporting.summary": {
        "kind": "FULL",
        "depends_on": [],
        "external_depends_on": ["analytics.mart"],
        "column_lineage": {"total": ["analytics.mart.amount"]},
    },
}
DBT_MODELS: dict[str, dict[str, Any]] = {
    "mart": {
        "engine": "dbt",
        "name": "mart",
        "unique_id": "model.tiny.mart",
        "kind": "table",
        "reads_tables": ["staging.orders"],
        "checks": ["unique_mart_id"],
        "relation": "analytics.mart",
    },
    "customers": {"engine": "dbt", "name": "customers", "unique_id": "model.tiny.customers", "kind": "table"},
}


def sqlmesh_model(name: str, spec: dict[str, Any]) -> CatalogModel:
    return CatalogModel(
        engine="sqlmesh",
        name=name,
        kind=spec["kind"],
        depends_on=tuple(spec["depends_on"]),
        columns=dict(spec.get("columns", {})),
        reads_tables=tuple(spec.get("external_depends_on", ())),
        checks=tuple(spec.get("audits", ())),
    )


def catalogs() -> dict[Engine, ModelCatalog]:
    return {
        Engine.SQLMESH: ModelCatalog(
            "sqlmesh", Path("sqlmesh"), {n: sqlmesh_model(n, s) for n, s in SQLMESH_MODELS.items()}
        ),
        Engine.DBT: ModelCatalog.from_json("dbt", Path("manifest.json"), DBT_MODELS),
    }


def unified_graph() -> UnifiedGraph:
    """Every model of both catalogs, none placed in a stage."""
    return UnifiedGraph(models_graph=build_model_graph(catalogs(), "analytics"))


def artifact_document(sources: dict[str, list] | None = None, **overrides: Any) -> dict[str, Any]:
    """The JSON document `dualengine compile` would write for these models."""
    document = {
        "version": ARTIFACT_VERSION,
        "sources": sources or {},
        "sqlmesh": {"project_path": "sqlmesh", "gateway": None, "gateways": None, "models": SQLMESH_MODELS},
        "dbt": {
            "manifest": "dbt/target/manifest.json",
            "models": DBT_MODELS,
            "sqlmesh_suffix_var": "sqlmesh_schema_suffix",
        },
        "cross_engine_edges": [],
    }
    return copy.deepcopy({**document, **overrides})


def write_project(root: Path, settings: dict[str, Any] | None = None) -> Path:
    """A loadable project: SQLMesh models in stage_1, dbt's in stage_2, SQLMesh's reporting
    model in stage_3, and a fresh compiled artifact."""
    from airflow_provider_dualengine.compiled.artifact import source_files_state
    from airflow_provider_dualengine.config import load_project

    (root / "sqlmesh").mkdir(parents=True)
    (root / "sqlmesh" / "config.yaml").write_text("model_defaults: {dialect: duckdb}\n")
    (root / "dbt" / "target").mkdir(parents=True)
    (root / "dbt" / "dbt_project.yml").write_text("name: tiny\nprofile: tiny\n")
    (root / "dbt" / "target" / "manifest.json").write_text(
        json.dumps({"metadata": {"project_name": "tiny"}, "nodes": {}, "sources": {}})
    )
    (root / "config").mkdir()
    (root / "dualengine.yml").write_text(
        yaml.safe_dump({"name": "tiny", "dbt": {"profile": "tiny"}, "default_environment": "dev", **(settings or {})})
    )
    (root / "config" / "dual_engine_environments.yml").write_text(
        yaml.safe_dump({"environments": {"dev": {"sqlmesh": {"environment_suffix": "_dev"}, "dbt": {"target": "dev"}}}})
    )
    stages = {
        "stage_1": {"engine": "sqlmesh", "models": ["raw.orders", "staging.orders", "staging.customers"]},
        "stage_2": {"engine": "dbt", "models": ["mart", "customers"], "depends_on": ["stage_1"]},
        "stage_3": {"engine": "sqlmesh", "models": ["reporting.summary"], "depends_on": ["stage_2"]},
    }
    (root / "config" / "dependency_graph.yml").write_text(yaml.safe_dump({"dependency_graph": stages}))
    project = load_project(root)
    (root / "target").mkdir()
    (root / "target" / "dualengine.json").write_text(json.dumps(artifact_document(source_files_state(project))))
    return root


def write_contract(folder: Path, model: str, producer: str, file_name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    document = {
        "version": 1,
        "models": [{"name": model, "producer": producer, "columns": [{"name": "id", "data_type": "integer"}]}],
    }
    path.write_text(yaml.safe_dump(document))
    return path
