"""The seed's directory structure (governance/directories.py): model files in allowed
folders (with the path to move to), contracts kept outside shared/schemas, missing seed
folders, on hand-built facts and on the planted compiled copy (every planted case and
nothing else)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import ModelOrganizationSpec, load_model_organization
from airflow_provider_dualengine.config.project import Project, load_project
from airflow_provider_dualengine.governance.directories import directory_findings
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts, load_facts
from tests.unit.governance._organization_project import DIRECTORY_FINDINGS, copy_example, planted_project

LAYOUT = {
    "directory_structure": {
        "sqlmesh_model_folders": ["staging", "intermediate", "shared"],
        "dbt_model_folders": ["marts", "staging"],
    }
}


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """An uncompiled copy: folders to remove and move (findings here need no compile)."""
    return copy_example(tmp_path / "transforms")


def _facts(project: Project, *models: ModelFacts) -> ProjectFacts:
    return ProjectFacts(project=project, models={m.key: m for m in models})


def test_a_model_file_outside_the_allowed_folders_gets_the_path_to_move_to(example_copy: Path) -> None:
    project = load_project(example_copy)
    spec = ModelOrganizationSpec.model_validate(
        {
            **LAYOUT,
            "layers": {
                "find_by": ["tag"],
                "definitions": {"presentation": {"engines": ["dbt"], "tags": ["bi"]}},
            },
        }
    )
    # The example's raw/ and reporting/ SQLMesh folders are not in this layout.
    facts = _facts(
        project,
        ModelFacts(Engine.SQLMESH, "staging.stg_x", Path("sqlmesh/models/stg_x.sql"), "FULL", "staging"),
        ModelFacts(Engine.SQLMESH, "raw.raw_orders", Path("sqlmesh/models/raw/raw_orders.sql"), "SEED", "raw"),
        ModelFacts(Engine.DBT, "kpis", Path("dbt/models/bi/kpis.sql"), "table", "analytics_dev", tags=("bi",)),
        ModelFacts(Engine.DBT, "stg_y", Path("dbt/models/staging/deeper/stg_y.sql"), "table", "analytics_dev"),
    )

    findings = {f.model: f for f in directory_findings(project, facts, spec)}

    assert set(findings) == {"sqlmesh:staging.stg_x", "sqlmesh:raw.raw_orders", "dbt:kpis"}
    assert findings["sqlmesh:staging.stg_x"].message == (
        "its file sqlmesh/models/stg_x.sql is in sqlmesh/models; sqlmesh models belong in "
        "sqlmesh/models/staging/, sqlmesh/models/intermediate/, sqlmesh/models/shared/"
    )
    assert findings["sqlmesh:staging.stg_x"].fix == "move it to sqlmesh/models/staging/stg_x.sql"  # its schema
    assert findings["sqlmesh:raw.raw_orders"].fix == (
        "move it into the allowed folder its models belong in (e.g. sqlmesh/models/staging/raw_orders.sql), "
        "or add 'raw' to directory_structure.sqlmesh_model_folders in config/model_organization.yml"
    )
    # Its layer (by tag) has no folder, so the first allowed one is the example.
    assert findings["dbt:kpis"].rule == "directories.dbt_models"
    assert findings["dbt:kpis"].fix.startswith(
        "move it into the allowed folder its models belong in (e.g. dbt/models/marts/kpis.sql)"
    )
    assert {f.severity for f in findings.values()} == {"error"}


def test_contracts_outside_shared_schemas_and_missing_seed_folders(example_copy: Path) -> None:
    (example_copy / "shared/schemas").rename(example_copy / "data_contracts")
    shutil.rmtree(example_copy / "shared/documentation")
    settings = example_copy / "dualengine.yml"
    settings.write_text(settings.read_text(encoding="utf-8") + "contracts: data_contracts\n", encoding="utf-8")
    project = load_project(example_copy)

    findings = directory_findings(project, _facts(project), ModelOrganizationSpec.model_validate(LAYOUT))

    assert {(f.rule, f.file.relative_to(example_copy).as_posix()) for f in findings if f.file} == {
        ("directories.contracts", "data_contracts/customer_enhanced.yml"),
        ("directories.contracts", "data_contracts/customer_lifetime.yml"),
        ("directories.contracts", "data_contracts/customer_value.yml"),
        ("directories.missing", "shared/schemas"),
        ("directories.missing", "shared/documentation"),
    }
    contract = next(f for f in findings if f.file and f.file.name == "customer_value.yml")
    assert contract.message == (
        "data contract data_contracts/customer_value.yml is outside shared/schemas/, where the seed keeps contracts"
    )
    assert contract.fix.startswith(
        "move it to shared/schemas/customer_value.yml and remove `contracts:` from dualengine.yml "
        "(shared/schemas is its default)"
    )
    missing = next(f for f in findings if f.file and f.file.name == "documentation")
    assert missing.message == "the folder shared/documentation/ (unified documentation) is missing"


def test_switched_off_or_absent_checks_nothing(example_copy: Path) -> None:
    project = load_project(example_copy)
    stray = ModelFacts(Engine.DBT, "x", Path("dbt/models/x.sql"), "table", "analytics_dev")
    off = {"directory_structure": {**LAYOUT["directory_structure"], "enabled": False}}

    assert directory_findings(project, _facts(project, stray), ModelOrganizationSpec.model_validate(off)) == []
    assert directory_findings(project, _facts(project, stray), ModelOrganizationSpec()) == []


def test_every_planted_directory_violation_is_reported_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = load_project(planted_project(tmp_path_factory.getbasetemp()))
    spec = load_model_organization(project)
    assert spec is not None

    findings = directory_findings(project, load_facts(project), spec)

    assert {(f.rule, f.model) for f in findings} == DIRECTORY_FINDINGS
    scratch = next(f for f in findings if f.model)
    assert scratch.message.startswith(
        "its file sqlmesh/models/adhoc/sqlm_scratch.sql is in folder sqlmesh/models/adhoc; sqlmesh models belong in"
    )
    assert scratch.fix.endswith(
        "or add 'adhoc' to directory_structure.sqlmesh_model_folders in config/model_organization.yml"
    )
    missing = next(f for f in findings if not f.model)
    assert missing.file == project.root / "shared/tests"
    assert missing.fix.startswith(f"create shared/tests/ in {project.root} (with a .gitkeep while it is empty)")
