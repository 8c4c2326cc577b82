"""The typed compiled artifact on hand-built documents: format versions, shape, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.compiled.document import (
    ARTIFACT_VERSION,
    ArtifactProblem,
    ArtifactVersionError,
    CompiledArtifact,
    parse_artifact,
)
from airflow_provider_dualengine.config.engine import Engine

from ..graph._synthetic import DBT_MODELS, artifact_document, write_project

PATH, ROOT = Path("/p/target/dualengine.json"), Path("/p")


def test_what_compile_writes_reads_back_unchanged() -> None:
    document = artifact_document({"sqlmesh/models/a.sql": [10, 123, "ab"]}, future_key={"kept": True})
    artifact = parse_artifact(json.loads(json.dumps(document)), PATH, ROOT)
    assert artifact.format_version == ARTIFACT_VERSION
    assert artifact.sources == {"sqlmesh/models/a.sql": (10, 123, "ab")}
    assert artifact.sqlmesh.models["staging.orders"].column_lineage == {"amount": ("raw.orders.amount",)}
    assert artifact.dbt.manifest == "dbt/target/manifest.json"
    assert json.loads(json.dumps(artifact.to_json())) == json.loads(json.dumps(document))


def test_newer_format_says_upgrade_or_recompile() -> None:
    with pytest.raises(ArtifactVersionError) as raised:
        parse_artifact(artifact_document(version=ARTIFACT_VERSION + 1), PATH, ROOT)
    assert isinstance(raised.value, ArtifactProblem)  # ensure_compiled recompiles it
    [issue] = raised.value.issues
    assert (issue.file, issue.key) == (PATH, "version")
    assert issue.message == (
        f"the compiled artifact has format version {ARTIFACT_VERSION + 1}, written by a newer "
        f"airflow-provider-dualengine; this provider reads format {ARTIFACT_VERSION}"
    )
    assert issue.hint == (
        "upgrade airflow-provider-dualengine to the release that compiled it, "
        "or recompile with this one: `dualengine compile /p`"
    )


@pytest.mark.parametrize(
    ("version", "found"),
    [(0, "format version 0"), (None, "no format version"), ("1", "format version '1'"), (True, "format version True")],
)
def test_older_or_missing_format_asks_to_recompile(version: object, found: str) -> None:
    document = artifact_document(version=version)
    if version is None:
        del document["version"]
    with pytest.raises(ArtifactVersionError) as raised:
        parse_artifact(document, PATH, ROOT)
    [issue] = raised.value.issues
    assert (issue.file, issue.key) == (PATH, "version")
    assert issue.message == (
        f"the compiled artifact has {found} (written by an older provider, or not by `dualengine compile`); "
        f"this provider reads format {ARTIFACT_VERSION}"
    )
    assert issue.hint == "recompile: `dualengine compile /p`"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([1, 2], "the document is a JSON list, not an object"),
        ({"version": ARTIFACT_VERSION, "sqlmesh": {}}, "it has no 'sources', 'dbt'"),
        (artifact_document(sources={"a": [1, 2]}), "'sources' is not a map of file -> [size, mtime, sha256]"),
        (
            artifact_document(sqlmesh={"models": {"a.b": {"kind": "FULL"}}}),
            "SQLMesh model 'a.b' has no kind or depends_on",
        ),
        (artifact_document(dbt={"models": {}}), "'dbt.manifest' or 'dbt.models' is missing"),
        (
            artifact_document(dbt={"manifest": "m.json", "models": {"x": {"name": "x"}}}),
            "dbt model 'x' is not a model entry",
        ),
        (
            artifact_document(sqlmesh={"models": {"a.b": {"kind": "FULL", "depends_on": [], "columns": {"id": 1}}}}),
            "sqlmesh.models.a.b.columns.id: Input should be a valid string",
        ),
    ],
)
def test_documents_compile_did_not_write(document: object, problem: str) -> None:
    with pytest.raises(ArtifactProblem) as raised:
        parse_artifact(document, PATH, ROOT)
    assert not isinstance(raised.value, ArtifactVersionError)
    assert str(raised.value) == f"compiled artifact {PATH} is not what `dualengine compile` writes: {problem}"


def test_gateways_absent_is_not_gateways_unnamed() -> None:
    named = parse_artifact(artifact_document(), PATH, ROOT)
    assert named.sqlmesh.records_gateways and named.sqlmesh.gateways is None  # one unnamed gateway
    document = artifact_document()
    del document["sqlmesh"]["gateways"]  # type: ignore[attr-defined]
    assert not parse_artifact(document, PATH, ROOT).sqlmesh.records_gateways


def test_older_optional_keys_take_their_defaults() -> None:
    document = artifact_document(dbt={"manifest": "m.json", "models": {}})
    del document["cross_engine_edges"]
    artifact = parse_artifact(document, PATH, ROOT)
    assert artifact.dbt.sqlmesh_suffix_var == "sqlmesh_schema_suffix"
    assert artifact.cross_engine_edges == ()
    assert "sqlmesh_suffix_var" not in artifact.to_json()["dbt"]  # nothing written that was not read


def test_catalogs_of_both_engines(tmp_path: Path) -> None:
    document = artifact_document()
    document["sqlmesh"]["models"]["staging.orders"] = {  # type: ignore[index]
        **document["sqlmesh"]["models"]["staging.orders"],  # type: ignore[index]
        "path": "models/orders.sql",
        "cron": "@hourly",
    }
    catalogs = CompiledArtifact.model_validate(document).catalogs(tmp_path, tmp_path / "sqlmesh")
    orders = catalogs[Engine.SQLMESH].models["staging.orders"]
    assert (orders.path, orders.cron, orders.schema, orders.depends_on, orders.checks) == (
        Path("models/orders.sql"),
        "@hourly",
        "staging",
        ("raw.orders",),
        ("not_null_id",),
    )
    assert catalogs[Engine.SQLMESH].models["reporting.summary"].reads_tables == ("analytics.mart",)
    assert catalogs[Engine.SQLMESH].source == tmp_path / "sqlmesh"
    assert sorted(catalogs[Engine.DBT].models) == sorted(DBT_MODELS)
    assert catalogs[Engine.DBT].source == tmp_path / "dbt/target/manifest.json"


def test_a_newer_artifact_fails_the_graph_with_the_file_and_the_fix(tmp_path: Path) -> None:
    from airflow_provider_dualengine.compiled.artifact import read_artifact
    from airflow_provider_dualengine.config import DualEngineConfigError, load_project
    from airflow_provider_dualengine.graph import build_graph

    project = load_project(write_project(tmp_path / "tiny"))
    assert read_artifact(project).format_version == ARTIFACT_VERSION  # fresh as written
    document = json.loads(project.artifact_path.read_text())
    project.artifact_path.write_text(json.dumps({**document, "version": ARTIFACT_VERSION + 1}))
    with pytest.raises(DualEngineConfigError) as raised:
        build_graph(project)
    [issue] = raised.value.issues
    assert (issue.file, issue.key) == (project.artifact_path, "version")
    assert "newer airflow-provider-dualengine" in issue.message
    assert f"`dualengine compile {project.root}`" in issue.hint
