"""Which model reads which, from two hand-built catalogs; and compiled/ stays below graph/."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import airflow_provider_dualengine.compiled as compiled_package
from airflow_provider_dualengine.compiled.edges import Edge, model_edges, node_id
from airflow_provider_dualengine.config.engine import Engine

from ..graph._synthetic import catalogs

SQLMESH, DBT = Engine.SQLMESH, Engine.DBT


def test_same_engine_edges_then_cross_engine_edges() -> None:
    assert model_edges(catalogs(), "analytics") == [
        Edge((SQLMESH, "raw.orders"), (SQLMESH, "staging.orders"), "sqlmesh"),
        Edge((SQLMESH, "staging.orders"), (DBT, "mart"), "source"),
        Edge((DBT, "mart"), (SQLMESH, "reporting.summary"), "table"),
    ]


def test_a_sqlmesh_read_of_the_prod_schema_finds_the_dbt_model() -> None:
    """The manifest is compiled for one target: `analytics_dev.mart` is still read as `analytics.mart`."""
    both = catalogs()
    dbt = both[DBT]
    dbt.models["mart"] = replace(dbt.models["mart"], relation="analytics_dev.mart")
    assert Edge((DBT, "mart"), (SQLMESH, "reporting.summary"), "table") in model_edges(both, "analytics")
    assert Edge((DBT, "mart"), (SQLMESH, "reporting.summary"), "table") not in model_edges(both, None)


def test_one_engine_alone_has_no_cross_engine_edges() -> None:
    edges = model_edges({SQLMESH: catalogs()[SQLMESH]}, "analytics")
    assert edges and not any(e.cross_engine for e in edges)


def test_node_id() -> None:
    assert node_id((DBT, "mart")) == "dbt:mart"


def test_compiled_imports_nothing_from_the_graph_layer() -> None:
    folder = Path(compiled_package.__file__).parent
    upward = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            upward += [f"{path.name}: {n}" for n in names if n.startswith("airflow_provider_dualengine.graph")]
    assert upward == []
