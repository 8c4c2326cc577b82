"""dbt `ref()` to a SQLMesh model, through the dbt_dualengine plugin and real dbt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.engines.dbt.sqlmesh_refs import MODELS_FILE_ENV, SQLMeshRefError, sqlmesh_model_nodes


def test_every_sqlmesh_model_becomes_a_public_refable_node() -> None:
    nodes = sqlmesh_model_nodes(
        {"staging.customer_enhanced": {}, "intermediate.customer_lifetime": {}}, "__dev", database="shop"
    )
    node = nodes.models["model.sqlmesh.intermediate.customer_lifetime"]
    assert (node.name, node.schema, node.identifier, node.database, node.access) == (
        "intermediate.customer_lifetime",
        "intermediate__dev",
        "customer_lifetime",
        "shop",
        "public",
    )
    assert len(nodes.models) == 2


def test_a_suffix_that_is_not_an_identifier_is_refused() -> None:
    with pytest.raises(SQLMeshRefError, match="sqlmesh_schema_suffix"):
        sqlmesh_model_nodes({"staging.customer_enhanced": {}}, '"; drop table x; --')


def _compile_customer_value(project_dir: Path, tmp_path: Path, cli_vars: dict | None, env_models: bool = True) -> str:
    """`dbt compile` the mart that refs a SQLMesh model; return its compiled SQL."""
    project = load_project(project_dir)
    profiles = tmp_path / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "profiles.yml").write_text(
        yaml.safe_dump(
            {
                "shop": {
                    "target": "dev",
                    "outputs": {
                        "dev": {"type": "duckdb", "path": str(tmp_path / "w.duckdb"), "schema": "analytics_dev"}
                    },
                }
            }
        )
    )
    target = tmp_path / "target"
    env = {k: v for k, v in os.environ.items() if k != MODELS_FILE_ENV}
    if env_models:
        env[MODELS_FILE_ENV] = str(project.artifact_path)
    command = [
        sys.executable,
        "-m",
        "dbt.cli.main",
        "compile",
        "--project-dir",
        str(project.dbt_path),
        "--profiles-dir",
        str(profiles),
        "--target-path",
        str(target),
        "--select",
        "customer_value",
        "--no-partial-parse",
        "--quiet",
    ]
    if cli_vars is not None:
        command += ["--vars", json.dumps(cli_vars)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return (target / "compiled" / "shop" / "models" / "marts" / "customer_value.sql").read_text()


@pytest.mark.slow
def test_ref_to_a_sqlmesh_model_compiles_to_the_view_of_the_environment(example_project: Path, tmp_path: Path) -> None:
    dev = _compile_customer_value(example_project, tmp_path / "dev", {"sqlmesh_schema_suffix": "__dev"})
    prod = _compile_customer_value(example_project, tmp_path / "prod", None)
    # in the database dbt itself uses (dbt-duckdb: the file's stem), like its own models, so
    # Cosmos and openlineage-dbt name the SQLMesh view as our SQLMesh tasks do
    assert '"w"."intermediate__dev"."customer_lifetime"' in dev
    assert '"w"."intermediate"."customer_lifetime"' in prod and "__dev" not in prod
    manifest = json.loads((tmp_path / "dev" / "target" / "manifest.json").read_text())
    node = manifest["nodes"]["model.sqlmesh.intermediate.customer_lifetime"]
    assert (node["database"], node["schema"]) == ("w", "intermediate__dev")


@pytest.mark.slow
def test_dbt_run_by_hand_finds_the_sqlmesh_models_from_the_project(example_project: Path, tmp_path: Path) -> None:
    """Without the variable (dbt run by hand), the plugin reads the compiled artifact of
    the dual-engine project above the dbt project."""
    sql = _compile_customer_value(example_project, tmp_path, {"sqlmesh_schema_suffix": "__dev"}, env_models=False)
    assert '"w"."intermediate__dev"."customer_lifetime"' in sql
