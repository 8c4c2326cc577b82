"""`--changed-since`: each kind of change selects the models it affects, and says why.

One commit on the example changes, at once: a SQLMesh audit (metadata only), a SQLMesh
unit-test file, a dbt test in schema.yml, the dbt source over SQLMesh's staging layer and
a contract. A second repository keeps the dbt project outside the project folder and
changes `generate_schema_name`, which moves every dbt relation. Real git, SQLMesh
and dbt (two compiles and a `dbt ls` per call).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.engine import Engine

pytestmark = pytest.mark.slow

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]


def _repository(example: Path, into: Path) -> Path:
    shutil.copytree(example, into / "transforms", ignore=shutil.ignore_patterns("target", "*.duckdb", "logs", ".cache"))
    subprocess.run([*GIT, "init", "-q", str(into)], check=True)
    subprocess.run([*GIT, "-C", str(into), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(into), "commit", "-qm", "base"], check=True)
    return into / "transforms"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _changes(project_dir: Path, ref: str = "HEAD"):
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph
    from airflow_provider_dualengine.testing.changes import changes_since

    project = load_project(project_dir)
    compile_project(project)
    return changes_since(project, build_graph(project), ref)


def test_every_kind_of_change_selects_its_models_with_the_reason(example_project: Path, tmp_path: Path) -> None:
    project = _repository(example_project, tmp_path / "repo")
    sqlmesh, dbt = project / "sqlmesh", project / "dbt"
    # uncommitted edits count too
    _edit(
        sqlmesh / "models" / "staging" / "stg_orders.sql",
        "not_null(columns := (order_id, customer_id))",
        "not_null(columns := (order_id, customer_id, amount))",
    )
    _edit(sqlmesh / "tests" / "test_customer_lifetime.yaml", "Only completed orders", "Only the completed orders")
    _edit(
        dbt / "models" / "staging" / "schema.yml", "- not_null", "- not_null:\n              config: {severity: warn}"
    )
    _edit(
        dbt / "models" / "sources.yml",
        "      - name: stg_orders\n",
        "      - name: stg_orders\n        loaded_at_field: order_date\n",
    )
    (project / "shared" / "schemas" / "customer_value.yml").write_text(
        (project / "shared" / "schemas" / "customer_value.yml").read_text() + "# reviewed\n"
    )

    change = _changes(project)

    reasons = dict(r.split(": ", 1) for r in change.reasons)
    assert reasons["sqlmesh:staging.stg_orders"] == "SQLMesh fingerprint changed: metadata (audits, start, grain...)"
    assert (
        reasons["sqlmesh:intermediate.customer_lifetime"]
        == "its SQLMesh unit test file test_customer_lifetime.yaml changed"
    )
    assert reasons["dbt:stg_customers"] == "its dbt test not_null_stg_customers_customer_id changed"
    assert reasons["dbt:stg_completed_orders"] == "it reads the changed dbt source stg_orders"
    assert reasons["dbt:customer_value"] == "contract customer_value.yml changed"
    assert reasons["sqlmesh:reporting.value_band_summary"] == "contract customer_value.yml changed"
    assert not change.everything
    assert (Engine.DBT, "customer_order_summary") not in change.changed


def test_a_moved_dbt_relation_and_a_dbt_project_outside_the_folder_are_seen(
    example_project: Path, tmp_path: Path
) -> None:
    root = tmp_path / "repo"
    project = _repository(example_project, root)
    # the dbt project moves next to the project folder: dualengine.yml points there
    subprocess.run(["git", "-C", str(root), "mv", "transforms/dbt", "dbt"], check=True)
    _edit(project / "dualengine.yml", "  path: dbt\n", "  path: ../dbt\n")
    subprocess.run([*GIT, "-C", str(root), "commit", "-qam", "dbt beside"], check=True)
    macro = root / "dbt" / "macros" / "generate_schema_name.sql"
    macro.write_text(
        "{% macro generate_schema_name(custom_schema_name, node) -%}{{ target.schema }}_x{%- endmacro %}\n"
    )

    change = _changes(project)

    reasons = dict(r.split(": ", 1) for r in change.reasons)
    assert reasons["dbt:customer_value"].startswith("its relation moved from ")
    assert "_x" in reasons["dbt:customer_value"]
    assert {k for k in change.changed if k[0] is Engine.DBT} == {
        (Engine.DBT, m) for m in ("customer_value", "customer_order_summary", "stg_customers", "stg_completed_orders")
    }
