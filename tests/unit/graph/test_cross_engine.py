"""Cross-engine edges, stage validation, cycles, impact and lineage on the unified graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.config import DualEngineConfigError, load_project
from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog
from airflow_provider_dualengine.graph import Engine, build_graph
from airflow_provider_dualengine.graph.impact import analyze_impact
from airflow_provider_dualengine.graph.lineage import build_model_graph


def _cross(graph) -> set[tuple[str, str, str]]:
    return {(e.upstream[1], e.downstream[1], e.via) for e in graph.models_graph.cross_engine_edges()}


def test_cross_engine_edges_of_the_example_are_found_both_ways(example_project: Path) -> None:
    graph = build_graph(load_project(example_project))
    assert _cross(graph) == {
        ("staging.customer_enhanced", "stg_customers", "source"),  # dbt source over a SQLMesh view
        ("staging.stg_orders", "stg_completed_orders", "source"),
        ("intermediate.customer_lifetime", "customer_value", "ref"),  # dbt ref() to a SQLMesh model
        ("customer_value", "reporting.value_band_summary", "table"),  # SQLMesh reading a dbt table
    }


def test_sqlmesh_model_reading_a_dbt_table_is_an_edge_too(tmp_path: Path) -> None:
    sqlmesh = ModelCatalog(
        "sqlmesh",
        tmp_path,
        {
            "reporting.value_history": CatalogModel(
                "sqlmesh", "reporting.value_history", reads_tables=("analytics.customer_value",)
            )
        },
    )
    dbt = ModelCatalog(
        "dbt",
        tmp_path,
        {"customer_value": CatalogModel("dbt", "customer_value", relation="analytics_dev.customer_value")},
    )
    graph = build_model_graph({Engine.SQLMESH: sqlmesh, Engine.DBT: dbt}, dbt_base_schema="analytics")
    [edge] = graph.cross_engine_edges()
    assert (edge.upstream, edge.downstream, edge.via) == (
        (Engine.DBT, "customer_value"),
        (Engine.SQLMESH, "reporting.value_history"),
        "table",
    )


def test_model_in_an_earlier_stage_than_what_it_reads(project_copy: Path) -> None:
    graph_file = project_copy / "config" / "dependency_graph.yml"
    text = graph_file.read_text().replace(
        "dbt_models: [stg_customers, stg_completed_orders]",
        "dbt_models: [stg_customers, stg_completed_orders, customer_value]",
    )
    graph_file.write_text(
        text.replace("models: [customer_order_summary, customer_value]", "models: [customer_order_summary]")
    )
    with pytest.raises(DualEngineConfigError) as info:
        build_graph(load_project(project_copy))
    [issue] = info.value.issues
    assert issue.key == "dependency_graph.stage_2_mixed"
    assert "dbt:customer_value (stage 'stage_2_mixed') reads sqlmesh:intermediate.customer_lifetime" in issue.message
    assert "the same stage" in issue.message


def test_cycle_across_engines_is_named(tmp_path: Path) -> None:
    from airflow_provider_dualengine.graph.build import _model_cycles

    sqlmesh = ModelCatalog(
        "sqlmesh",
        tmp_path,
        {"staging.scores": CatalogModel("sqlmesh", "staging.scores", reads_tables=("analytics.segments",))},
    )
    dbt = ModelCatalog(
        "dbt",
        tmp_path,
        {"segments": CatalogModel("dbt", "segments", reads_tables=("staging.scores",), relation="analytics.segments")},
    )
    [issue] = _model_cycles(
        build_model_graph({Engine.SQLMESH: sqlmesh, Engine.DBT: dbt}, "analytics"), tmp_path / "g.yml"
    )
    assert "cycle across engines" in issue.message
    assert "sqlmesh:staging.scores" in issue.message and "dbt:segments" in issue.message


def test_impact_of_a_sqlmesh_staging_model_lists_the_dbt_marts(example_project: Path) -> None:
    project = load_project(example_project)
    report = analyze_impact(build_graph(project), ["staging.stg_orders"], example_project / "shared" / "schemas")
    item = report["sqlmesh:staging.stg_orders"]
    downstream = {(d["engine"], d["model"]): d["stage"] for d in item["downstream"]}
    assert downstream[("dbt", "customer_order_summary")] == "stage_3_dbt"
    assert downstream[("dbt", "customer_value")] == "stage_3_dbt"
    assert item["impact_scope"]["by_engine"] == {"sqlmesh": 3, "dbt": 4}
    assert item["risk_level"] == "high"
    assert item["contracts_to_check"] == [
        str(example_project / "shared" / "schemas" / f"{name}.yml")
        for name in ("customer_enhanced", "customer_lifetime", "customer_value")
    ]
    assert "unique_customer_order_summary_customer_id" in item["checks_to_run"]["dbt:customer_order_summary"]


def test_impact_of_a_leaf_is_low(example_project: Path) -> None:
    report = analyze_impact(
        build_graph(load_project(example_project)), ["customer_order_summary"], example_project / "shared" / "schemas"
    )
    assert report["dbt:customer_order_summary"]["risk_level"] == "low"
    assert report["dbt:customer_order_summary"]["downstream"] == []


def test_impact_of_a_dbt_mart_reaches_the_sqlmesh_model_reading_it(example_project: Path) -> None:
    report = analyze_impact(
        build_graph(load_project(example_project)), ["customer_value"], example_project / "shared" / "schemas"
    )
    downstream = {(d["engine"], d["model"]): d["stage"] for d in report["dbt:customer_value"]["downstream"]}
    assert downstream == {("sqlmesh", "reporting.value_band_summary"): "stage_4_sqlmesh_reporting"}


def test_lineage_and_impact_cli(example_project: Path, capsys) -> None:
    from airflow_provider_dualengine.cli.main import main

    assert main(["lineage", str(example_project)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {n["id"] for n in doc["nodes"]} >= {"sqlmesh:staging.stg_orders", "dbt:customer_value"}
    assert sum(e["cross_engine"] for e in doc["edges"]) == 4
    assert main(["lineage", str(example_project), "--format", "mermaid"]) == 0
    assert "==>|cross-engine|" in capsys.readouterr().out
    assert main(["impact", str(example_project), "staging.stg_orders", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sqlmesh:staging.stg_orders"]["risk_level"] == "high"
    assert main(["impact", str(example_project), "no_such_model"]) == 2
    assert "no such model in either project" in capsys.readouterr().err
