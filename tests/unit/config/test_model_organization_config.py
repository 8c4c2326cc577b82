"""config/model_organization.yml (config/model_organization.py): the example's file, no
file (nothing checked), and each configuration error naming the file, the key, what is
wrong and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.model_organization import (
    MODEL_ORGANIZATION_FILE,
    SEED_FOLDERS,
    load_model_organization,
    read_model_organization,
)
from airflow_provider_dualengine.config.project import load_project
from tests.conftest import EXAMPLE_PROJECT


def _issues(tmp_path: Path, text: str, root: Path | None = None) -> list[ConfigIssue]:
    path = tmp_path / "model_organization.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DualEngineConfigError) as caught:
        read_model_organization(path, root)
    assert {i.file for i in caught.value.issues} == {path}
    return caught.value.issues


def _one(tmp_path: Path, text: str, root: Path | None = None) -> tuple[str, str, str]:
    [issue] = _issues(tmp_path, text, root)
    return issue.key, issue.message, issue.hint


def test_the_example_file_switches_every_convention_on() -> None:
    spec = load_model_organization(load_project(EXAMPLE_PROJECT))

    assert spec is not None and spec.layers is not None and spec.naming is not None and spec.directories is not None
    assert list(spec.layers.definitions) == ["raw", "integration", "business", "presentation"]
    assert spec.layers.definitions["business"].engines == ["sqlmesh", "dbt"]
    assert spec.layers.definitions["presentation"].engines == ["dbt"]
    assert (spec.layers.severity, spec.layers.require_layer) == ("warning", True)
    assert spec.domains is None
    assert [spec.naming.prefix(r) for r in ("sqlmesh_models", "dbt_models", "shared_interfaces")] == [
        "sqlm_",
        "dbt_",
        "shared_",
    ]
    assert spec.ref_format == "engine.model_name"
    assert spec.directories.required_folders == list(SEED_FOLDERS)


def test_no_file_means_nothing_is_checked_and_an_empty_one_checks_nothing(tmp_path: Path) -> None:
    project = load_project(EXAMPLE_PROJECT)
    elsewhere = type(project)(
        project.root,
        project.settings,
        project.graph_spec,
        project.environments,
        {**project.files, "model_organization": tmp_path / "absent.yml"},
    )
    assert load_model_organization(elsewhere) is None

    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    spec = read_model_organization(empty)
    assert (spec.layers, spec.domains, spec.naming, spec.directories) == (None, None, None, None)
    assert MODEL_ORGANIZATION_FILE == "config/model_organization.yml"


def test_unknown_keys_and_wrong_values_name_the_key_and_the_fix(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        "layers:\n  severity: fatal\n  definitions:\n    raw: {engines: [spark], folders: [x]}\n"
        "naming_conventions:\n  sqlmesh_models: {prefixx: sqlm_}\n  dbt_models: {prefix: 'dbt-'}\n",
    )

    assert {(i.key, i.hint.split(" (")[0]) for i in issues} == {
        ("layers.severity", "use one of the allowed values"),
        ("layers.definitions.raw.engines[0]", "use one of the allowed values"),
        ("naming_conventions.sqlmesh_models.prefixx", "remove the key or check its spelling"),
        (
            "naming_conventions.dbt_models.prefix",
            "letters, digits and underscores, e.g. `sqlm_`; null switches the prefix off",
        ),
    }


def test_an_exemption_needs_its_reason(tmp_path: Path) -> None:
    assert _one(tmp_path, "naming_conventions:\n  exempt: [{models: ['legacy_*']}]\n") == (
        "naming_conventions.exempt[0].reason",
        "Field required",
        "say why these models are exempt (lint shows it), e.g. `reason: renamed when the dashboards move`",
    )
    key, _, hint = _one(tmp_path, "naming_conventions:\n  exempt: [{models: ['legacy_*'], reason: '  '}]\n")
    assert key == "naming_conventions.exempt[0].reason" and hint.startswith("say why these models are exempt")


def test_two_definitions_claiming_one_folder_tag_or_schema(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        "layers:\n  definitions:\n"
        "    raw: {engines: [sqlmesh], folders: [sqlmesh/models/raw], tags: [raw], schemas: [raw]}\n"
        "    staging: {engines: [sqlmesh], folders: ['sqlmesh/models/raw/'], tags: [raw], schemas: [raw]}\n",
    )

    assert [(i.key, i.message, i.hint) for i in issues] == [
        (
            f"layers.definitions.staging.{key}[0]",
            f"{method} '{value}' is claimed by both raw and staging: a model found by it would be in both",
            f"keep '{value}' in one of them",
        )
        for method, key, value in (
            ("folder", "folders", "sqlmesh/models/raw"),
            ("tag", "tags", "raw"),
            ("schema", "schemas", "raw"),
        )
    ]


def test_a_folder_inside_another_definitions_folder(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        "domains:\n  definitions:\n"
        "    all: {engines: [dbt], folders: [dbt/models]}\n"
        "    finance: {engines: [sqlmesh], folders: [dbt/models/finance]}\n",
    )

    assert [(i.key, i.message) for i in issues] == [
        (
            "domains.definitions.finance.folders[0]",
            "folder dbt/models/finance is inside dbt/models of all: its models would be in both",
        )
    ]


def test_a_method_find_by_never_uses_an_empty_definition_and_a_missing_folder(tmp_path: Path) -> None:
    (tmp_path / "sqlmesh/models/raw").mkdir(parents=True)
    issues = _issues(
        tmp_path,
        "layers:\n  find_by: [folder]\n  definitions:\n"
        "    raw: {engines: [sqlmesh], folders: [sqlmesh/models/raw], schemas: [raw]}\n"
        "    marts: {engines: [dbt], folders: [dbt/models/mart]}\n"
        "    empty: {engines: [dbt]}\n",
        root=tmp_path,
    )

    assert [(i.key, i.message, i.hint) for i in issues] == [
        (
            "layers.definitions.raw.schemas",
            "schemas are given but layers.find_by does not include schema, so they are never used",
            "add schema to layers.find_by, or remove schemas",
        ),
        (
            "layers.definitions.empty",
            "the layer has no folders, tags or schemas, so no model can be found in it",
            "give the folders (or tags, schemas) of its models, e.g. `folders: [sqlmesh/models/empty]`",
        ),
        (
            "layers.definitions.marts.folders[0]",
            f"folder dbt/models/mart does not exist in {tmp_path}",
            "fix the path (relative to the project folder, e.g. sqlmesh/models/staging) or remove it",
        ),
    ]


def test_folders_must_stay_inside_the_project(tmp_path: Path) -> None:
    key, message, _ = _one(tmp_path, "directory_structure:\n  required_folders: [../elsewhere]\n")

    assert key == "directory_structure.required_folders"
    assert message == "'../elsewhere' is not a folder inside the project (write it relative to the project folder)"


def test_a_broken_yaml_file_names_its_line(tmp_path: Path) -> None:
    key, message, _ = _one(tmp_path, "layers:\n  severity: error\n  severity: warning\n")

    assert key == "line 3"
    assert message == "duplicate key 'severity' (first defined on line 2)"
