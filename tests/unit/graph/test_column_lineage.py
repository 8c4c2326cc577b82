"""Column-level lineage: recorded per SQLMesh SQL model at compile time, joined across
engines (a dbt table read by SQLMesh becomes the dbt model's columns) by `dualengine lineage`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.cli.main import main
from airflow_provider_dualengine.compiled.artifact import CompiledArtifact, read_artifact
from airflow_provider_dualengine.config import load_project
from airflow_provider_dualengine.graph.impact import column_edges, downstream_columns

VALUE_BAND_EDGE = {
    "from": "dbt:customer_value.value_band",
    "to": "sqlmesh:reporting.value_band_summary.value_band",
    "cross_engine": True,
}
LIFETIME_EDGE = {
    "from": "sqlmesh:staging.stg_orders.amount",
    "to": "sqlmesh:intermediate.customer_lifetime.lifetime_value",
    "cross_engine": False,
}


@pytest.fixture(scope="module")
def artifact(example_project: Path) -> CompiledArtifact:
    return read_artifact(load_project(example_project))


def _lineage_of(artifact: CompiledArtifact, model: str) -> dict[str, list[str]]:
    return {column: list(upstream) for column, upstream in artifact.sqlmesh.models[model].column_lineage.items()}


def test_sql_model_columns_trace_to_upstream_columns(artifact: CompiledArtifact) -> None:
    lifetime = _lineage_of(artifact, "intermediate.customer_lifetime")
    assert lifetime["lifetime_value"] == [
        "staging.stg_orders.amount",
        "staging.stg_orders.status",
    ]  # status: the FILTER
    assert lifetime["customer_id"] == [
        "staging.customer_enhanced.customer_id"
    ]  # read from a Python model's declared columns
    assert _lineage_of(artifact, "staging.stg_orders")["amount"] == ["raw.raw_orders.amount"]


def test_dbt_table_read_by_sqlmesh_is_traced_by_its_schema_table_name(artifact: CompiledArtifact) -> None:
    summary = _lineage_of(artifact, "reporting.value_band_summary")
    assert summary["value_band"] == ["analytics.customer_value.value_band"]
    assert summary["lifetime_value"] == ["analytics.customer_value.lifetime_value"]
    assert summary["customers"] == []  # COUNT(*) reads no column


def test_python_and_seed_models_have_no_column_lineage(artifact: CompiledArtifact) -> None:
    assert _lineage_of(artifact, "staging.customer_enhanced") == {}
    assert _lineage_of(artifact, "raw.raw_orders") == {}


def test_column_edges_map_the_dbt_table_to_the_dbt_model(artifact: CompiledArtifact) -> None:
    edges = column_edges(artifact, "analytics")
    assert VALUE_BAND_EDGE in edges and LIFETIME_EDGE in edges
    assert [e for e in edges if e["cross_engine"]] == [
        {
            "from": "dbt:customer_value.lifetime_value",
            "to": "sqlmesh:reporting.value_band_summary.lifetime_value",
            "cross_engine": True,
        },
        VALUE_BAND_EDGE,
    ]


def test_downstream_columns_follow_edges_transitively(artifact: CompiledArtifact) -> None:
    edges = column_edges(artifact, "analytics")
    assert downstream_columns(edges, "sqlmesh:raw.raw_orders.amount") == [
        "sqlmesh:staging.stg_orders.amount",
        "sqlmesh:intermediate.customer_lifetime.lifetime_value",
    ]


def test_lineage_json_lists_column_edges(example_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lineage", str(example_project)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert VALUE_BAND_EDGE in document["columns"] and LIFETIME_EDGE in document["columns"]
    assert {
        "from": "dbt:customer_value",
        "to": "sqlmesh:reporting.value_band_summary",
        "via": "table",
        "cross_engine": True,
    } in document["edges"]


def test_lineage_mermaid_draws_column_edges_only_when_asked(
    example_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["lineage", str(example_project), "--format", "mermaid"])
    assert "-.->" not in capsys.readouterr().out
    main(["lineage", str(example_project), "--format", "mermaid", "--columns"])
    assert "value_band -> value_band" in capsys.readouterr().out


def test_impact_of_a_column(example_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["impact", str(example_project), "customer_value", "--column", "value_band", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dbt:customer_value"]["downstream_columns"] == ["sqlmesh:reporting.value_band_summary.value_band"]


def test_artifact_compiled_without_column_lineage_still_reads(
    project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = load_project(project_copy).artifact_path
    old = json.loads(path.read_text())
    for model in old["sqlmesh"]["models"].values():
        del model["column_lineage"]
    path.write_text(json.dumps(old))
    assert main(["lineage", str(project_copy)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["columns"] == [] and document["edges"]


def test_queries_sqlmesh_cannot_optimize_are_qualified_for_lineage(tmp_path: Path) -> None:
    """Tables with no known schema (unqualified columns, stars) and a CTE."""
    from airflow_provider_dualengine.engines.sqlmesh.compile import describe_sqlmesh_project

    (tmp_path / "models").mkdir()
    (tmp_path / "config.yaml").write_text(
        "gateways:\n  local:\n    connection:\n      type: duckdb\ndefault_gateway: local\nmodel_defaults:\n  dialect: duckdb\n"
    )
    (tmp_path / "models" / "wide.sql").write_text("MODEL (name mart.wide, kind FULL);\nSELECT * FROM ext.events\n")
    (tmp_path / "models" / "one.sql").write_text("MODEL (name mart.one, kind FULL);\nSELECT 1 AS a, 2 AS b\n")
    (tmp_path / "models" / "star.sql").write_text(
        "MODEL (name mart.star, kind FULL);\nSELECT o.*, e.x FROM mart.one AS o JOIN ext.events AS e ON e.a = o.a\n"
    )
    (tmp_path / "models" / "totals.sql").write_text(
        "MODEL (name mart.totals, kind FULL);\n"
        "WITH per_day AS (SELECT account_id, day, amount * rate AS value FROM ext.events)\n"
        "SELECT account_id, SUM(value) AS total, 'x' AS tag FROM per_day GROUP BY account_id\n"
    )
    models = describe_sqlmesh_project(tmp_path)["models"]
    assert models["mart.totals"]["column_lineage"] == {
        "account_id": ["ext.events.account_id"],
        "total": ["ext.events.amount", "ext.events.rate"],
        "tag": [],
    }
    assert models["mart.star"]["column_lineage"] == {
        "a": ["mart.one.a"],
        "b": ["mart.one.b"],
        "x": ["ext.events.x"],
    }  # star of a known model expanded
    assert models["mart.wide"]["column_lineage"] == {}  # a star over unknown columns names none
