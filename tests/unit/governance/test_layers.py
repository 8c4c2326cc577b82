"""Layers and domains (governance/layers.py): how a model is placed (find_by order, one
definition, two, none) on ModelFacts built by hand, every planted layer and domain
violation of a compiled copy and nothing else, and the example's layers."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import ModelOrganizationSpec, load_model_organization
from airflow_provider_dualengine.config.project import Project, load_project
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts, load_facts
from airflow_provider_dualengine.governance.layers import assignments, layer_findings
from tests.conftest import EXAMPLE_PROJECT
from tests.unit.governance._organization_project import LAYER_FINDINGS, planted_project

LAYERS = {
    "severity": "error",
    "definitions": {
        "raw": {
            "engines": ["sqlmesh"],
            "folders": ["sqlmesh/models/raw"],
            "tags": ["raw"],
            "schemas": ["raw"],
            "reason": "heavy processing",
        },
        "business": {"engines": ["sqlmesh", "dbt"], "folders": ["dbt/models/staging"], "tags": ["kpi"]},
        "presentation": {"engines": ["dbt"], "folders": ["dbt/models/marts"], "tags": ["bi"]},
    },
}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(EXAMPLE_PROJECT)  # reads the example's files only: no compile


def _facts(project: Project, *models: ModelFacts) -> ProjectFacts:
    return ProjectFacts(project=project, models={m.key: m for m in models})


def _dbt(name: str, folder: str = "dbt/models/staging", **kwargs) -> ModelFacts:
    return ModelFacts(Engine.DBT, name, Path(f"{folder}/{name}.sql"), "table", "analytics_dev", **kwargs)


def _pairs(findings) -> set[tuple[str, str]]:
    return {(f.rule, f.model) for f in findings}


def test_the_first_find_by_method_that_matches_decides(project: Project) -> None:
    """In the marts folder (presentation) with the tag raw: by folder first it is
    presentation (dbt: fine); by tag first it is raw (SQLMesh only: a finding)."""
    model = _dbt("kpis", "dbt/models/marts", tags=("raw",))
    by_folder = ModelOrganizationSpec.model_validate({"layers": {**LAYERS, "find_by": ["folder", "tag"]}})
    by_tag = ModelOrganizationSpec.model_validate({"layers": {**LAYERS, "find_by": ["tag", "folder"]}})

    assert layer_findings(project, _facts(project, model), by_folder) == []
    [finding] = layer_findings(project, _facts(project, model), by_tag)

    assert (finding.severity, finding.rule, finding.model) == ("error", "layers.raw", "dbt:kpis")
    assert finding.message == "is in layer raw (found by tag raw), which allows sqlmesh only (heavy processing)"
    assert finding.fix == (
        "remove the tag 'raw' from it (tags of layers allowing dbt: kpi, bi), "
        "or allow dbt in layers.definitions.raw.engines (config/model_organization.yml)"
    )
    assert finding.file == EXAMPLE_PROJECT / "dbt/models/marts/kpis.sql"


def test_a_model_by_folder_and_by_schema_gets_a_move_or_a_schema_to_write_to(project: Project) -> None:
    spec = ModelOrganizationSpec.model_validate({"layers": LAYERS})
    in_raw = ModelFacts(Engine.DBT, "copy", Path("sqlmesh/models/raw/copy.sql"), "table", "x")
    raw_schema = ModelFacts(Engine.DBT, "landing", Path("dbt/models/other/landing.sql"), "table", "RAW")

    findings = {f.model: f for f in layer_findings(project, _facts(project, in_raw, raw_schema), spec)}

    assert findings["dbt:copy"].message == (
        "is in layer raw (found by folder sqlmesh/models/raw), which allows sqlmesh only (heavy processing)"
    )
    assert findings["dbt:copy"].fix.startswith(
        "move sqlmesh/models/raw/copy.sql to a folder of a layer that allows dbt (dbt/models/staging, dbt/models/marts), rewrite it for sqlmesh"
    )
    assert findings["dbt:landing"].message.startswith("is in layer raw (found by schema raw)")  # schemas: any case
    assert findings["dbt:landing"].fix.startswith("write it to the schema of a layer that allows dbt instead of 'raw'")


def test_two_definitions_found_by_the_same_method_and_none_when_one_is_required(project: Project) -> None:
    spec = ModelOrganizationSpec.model_validate({"layers": {**LAYERS, "require_layer": True}})
    both = _dbt("kpis", "dbt/models/other", tags=("bi", "kpi"))
    nowhere = _dbt("scratch", "dbt/models/other")
    allowed = _dbt("stg_x")  # dbt/models/staging: business allows both engines

    findings = layer_findings(project, _facts(project, both, nowhere, allowed), spec)

    assert _pairs(findings) == {("layers.overlap", "dbt:kpis"), ("layers.required", "dbt:scratch")}
    overlap = next(f for f in findings if f.rule == "layers.overlap")
    assert overlap.message == (
        "is in 2 layers: business (found by tag kpi) and presentation (found by tag bi); a model belongs to one layer"
    )
    assert overlap.fix == "keep only the tag of its layer: one of 'kpi', 'bi'"
    required = next(f for f in findings if f.rule == "layers.required")
    assert required.message == "is in no layer (require_layer: true): no layer claims it by folder, tag, schema"


def test_domains_use_the_same_rules_with_their_own_severity(project: Project) -> None:
    spec = ModelOrganizationSpec.model_validate(
        {"domains": {"find_by": ["tag"], "definitions": {"finance": {"engines": ["sqlmesh"], "tags": ["finance"]}}}}
    )
    model = _dbt("revenue", tags=("finance",))

    [finding] = layer_findings(project, _facts(project, model), spec)

    assert (finding.severity, finding.rule, finding.model) == ("warning", "domains.finance", "dbt:revenue")
    assert finding.message == "is in domain finance (found by tag finance), which allows sqlmesh only"


def test_every_planted_layer_and_domain_violation_is_reported_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = load_project(planted_project(tmp_path_factory.getbasetemp()))
    spec = load_model_organization(project)
    assert spec is not None

    findings = layer_findings(project, load_facts(project), spec)

    assert _pairs(findings) == LAYER_FINDINGS
    assert {f.rule: f.severity for f in findings} == {
        "layers.raw": "error",
        "layers.presentation": "error",
        "domains.finance": "warning",
        "domains.overlap": "warning",
    }
    how = {f.model: f.message.split(",")[0] for f in findings if f.rule == "layers.raw"}
    assert how == {
        "dbt:raw_payments": "is in layer raw (found by folder dbt/models/raw)",
        "dbt:orders_by_tag": "is in layer raw (found by tag raw)",
        "dbt:orders_by_schema": "is in layer raw (found by schema raw)",
    }


def test_the_example_puts_every_model_in_its_seed_layer(example_project: Path) -> None:
    project = load_project(example_project)
    spec = load_model_organization(project)
    assert spec is not None and spec.layers is not None

    assert {name: layer for (_, name), layer in assignments(load_facts(project), spec.layers).items()} == {
        "raw.raw_customers": "raw",
        "raw.raw_orders": "raw",
        "staging.stg_orders": "integration",
        "staging.customer_enhanced": "integration",
        "intermediate.customer_lifetime": "business",
        "stg_customers": "business",
        "stg_completed_orders": "business",
        "customer_order_summary": "presentation",
        "customer_value": "presentation",
        "reporting.value_band_summary": "presentation",
    }
