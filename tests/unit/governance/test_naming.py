"""Naming conventions (governance/naming.py, governance/cross_engine_refs.py): prefixes
on ModelFacts built by hand (engine and shared-interface prefixes, null prefixes, the
switch, exemptions), the reads that bypass ref()/source()/@dbt_model() in raw model text,
every planted naming violation of a compiled copy and nothing else, and the example's
suggested renames."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.contracts import Contract, ContractModel
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import (
    Exemption,
    ModelOrganizationSpec,
    load_model_organization,
)
from airflow_provider_dualengine.config.project import Project, load_project
from airflow_provider_dualengine.governance.cross_engine_refs import _dbt_sql_tables, _python_tables, display
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts, load_facts
from airflow_provider_dualengine.governance.naming import naming_findings, suggested_name
from tests.conftest import EXAMPLE_PROJECT
from tests.unit.governance._organization_project import NAMING_FINDINGS, planted_project

PREFIXES = {
    "sqlmesh_models": {"prefix": "sqlm_"},
    "dbt_models": {"prefix": "dbt_"},
    "shared_interfaces": {"prefix": "shared_"},
}


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(EXAMPLE_PROJECT)  # reads the example's files only: no compile


def _spec(**naming) -> ModelOrganizationSpec:
    return ModelOrganizationSpec.model_validate({"naming_conventions": {**PREFIXES, **naming}})


def _contract(name: str) -> Contract:
    model = ContractModel.model_validate(
        {"name": name, "columns": [{"name": "id", "data_type": "integer"}], "producer": "dbt"}
    )
    return Contract(file=EXAMPLE_PROJECT / f"shared/schemas/{name}.yml", index=0, version=1, model=model)


def _facts(project: Project) -> ProjectFacts:
    models = [
        ModelFacts(
            Engine.SQLMESH,
            "staging.orders",
            Path("sqlmesh/models/staging/orders.sql"),
            "FULL",
            "staging",
            downstream=((Engine.DBT, "dbt_totals"),),
        ),
        ModelFacts(
            Engine.SQLMESH, "staging.sqlm_clean", Path("sqlmesh/models/staging/sqlm_clean.sql"), "FULL", "staging"
        ),
        ModelFacts(Engine.DBT, "dbt_totals", Path("dbt/models/marts/dbt_totals.sql"), "table", "analytics_dev"),
        ModelFacts(
            Engine.DBT,
            "dbt_customers",
            Path("dbt/models/marts/dbt_customers.sql"),
            "table",
            "analytics_dev",
            contracts=(_contract("dbt_customers"),),
        ),
        ModelFacts(Engine.DBT, "legacy_report", Path("dbt/models/marts/legacy_report.sql"), "table", "analytics_dev"),
    ]
    return ProjectFacts(project=project, models={m.key: m for m in models})


def _pairs(findings) -> set[tuple[str, str]]:
    return {(f.rule, f.model) for f in findings}


def test_each_engine_prefix_and_the_shared_prefix_for_a_contract_producer(project: Project) -> None:
    facts = _facts(project)

    findings = naming_findings(project, facts, _spec())

    assert _pairs(findings) == {
        ("naming.sqlmesh_models.prefix", "sqlmesh:staging.orders"),
        ("naming.shared_interfaces.prefix", "dbt:dbt_customers"),
        ("naming.dbt_models.prefix", "dbt:legacy_report"),
    }
    assert {f.severity for f in findings} == {"warning"}
    orders = next(f for f in findings if f.model == "sqlmesh:staging.orders")
    assert orders.message == "'orders' lacks the SQLMesh model prefix 'sqlm_'"
    assert orders.fix == (
        "rename it to staging.sqlm_orders: change MODEL (name ...) in sqlmesh/models/staging/orders.sql "
        "and rename the file to sqlm_orders.sql; its readers dbt.dbt_totals (dbt/models/marts/dbt_totals.sql)"
    )
    shared = next(f for f in findings if f.model == "dbt:dbt_customers")
    assert shared.message == (
        "'dbt_customers' lacks the shared interface prefix 'shared_' (it produces the data contract "
        "shared/schemas/dbt_customers.yml, so it is a shared interface, not a plain dbt model)"
    )
    assert shared.fix == (
        "rename it to shared_customers: rename dbt/models/marts/dbt_customers.sql to dbt/models/marts/shared_customers.sql "
        "(dbt names a model after its file) and its YAML entries; the contract shared/schemas/dbt_customers.yml (models[0].name)"
    )


def test_null_prefixes_the_switch_and_exemptions_turn_checks_off(project: Project) -> None:
    facts = _facts(project)
    exempt = _spec(exempt=[{"models": ["legacy_*", "dbt:nothing_*"], "reason": "old dashboards"}])

    assert _pairs(naming_findings(project, facts, exempt)) == {
        ("naming.sqlmesh_models.prefix", "sqlmesh:staging.orders"),
        ("naming.shared_interfaces.prefix", "dbt:dbt_customers"),
        ("naming.exempt", ""),  # dbt:nothing_* matches no model
    }
    no_shared = _spec(shared_interfaces={"prefix": None}, sqlmesh_models=None)
    assert _pairs(naming_findings(project, facts, no_shared)) == {("naming.dbt_models.prefix", "dbt:legacy_report")}
    assert naming_findings(project, facts, _spec(enabled=False)) == []
    assert naming_findings(project, facts, ModelOrganizationSpec()) == []


def test_the_suggested_name_replaces_another_rules_prefix() -> None:
    naming = _spec().naming
    assert naming is not None
    sqlmesh = ModelFacts(Engine.SQLMESH, "marts.dbt_orders", None, "FULL", "marts")
    shared = ModelFacts(Engine.SQLMESH, "staging.sqlm_base", None, "FULL", "staging", contracts=(_contract("x"),))

    assert suggested_name(sqlmesh, naming) == "marts.sqlm_orders"
    assert suggested_name(shared, naming) == "staging.shared_base"


def test_cross_engine_names_follow_the_configured_format() -> None:
    assert display((Engine.SQLMESH, "staging.customer_enhanced"), "engine.model_name") == (
        "sqlmesh.staging.customer_enhanced"
    )
    assert display((Engine.DBT, "customer_value"), "engine:model_name") == "dbt:customer_value"


def test_dbt_sql_is_read_with_jinja_set_aside() -> None:
    text = (
        "{{ config(materialized='table') }}\n{# from staging.commented #}\n"
        "with o as (select * from {{ ref('staging.stg_orders') }})\n"
        'select * from o join "staging__dev".customer_enhanced c on 1 = 1 join memory.raw.raw_orders r on 1 = 1\n'
        "{% if is_incremental() %}where o.id > (select max(id) from {{ this }}){% endif %}"
    )

    assert _dbt_sql_tables(text, "duckdb") == {"staging__dev.customer_enhanced", "raw.raw_orders"}


def test_dbt_sql_sqlglot_cannot_parse_is_still_scanned_for_from_and_join() -> None:
    text = "select 1 {% for x in y %} union all select 2 from staging.stg_orders {% endfor %} qualify ???"

    assert _dbt_sql_tables(text, "duckdb") == {"staging.stg_orders"}


def test_a_python_model_names_tables_in_depends_on_and_in_sql_strings() -> None:
    text = (
        '"""Reads from the dbt mart."""\n'
        "QUERY = 'SELECT * FROM analytics.customer_value AS v JOIN raw.x ON 1 = 1'\n"
        "@model('reporting.py_model', depends_on=['analytics_dev.customer_order_summary'])\n"
        "def execute(context, **kwargs): ...\n"
    )

    assert _python_tables(text) == {
        "analytics.customer_value",
        "raw.x",
        "analytics_dev.customer_order_summary",
        "reporting.py_model",  # its own name: not a dbt relation, so never a finding
    }


def test_every_planted_naming_violation_is_reported_and_nothing_else(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = load_project(planted_project(tmp_path_factory.getbasetemp()))
    spec = load_model_organization(project)
    assert spec is not None

    findings = {f.model: f for f in naming_findings(project, load_facts(project), spec)}

    assert {(f.rule, m) for m, f in findings.items()} == NAMING_FINDINGS  # legacy_totals: exempt
    dbt = findings["dbt:order_totals"]
    assert dbt.severity == "error"
    assert dbt.message.startswith(
        "reads sqlmesh.staging.stg_orders as the hard-coded relation staging.stg_orders, bypassing ref() and source()"
    )
    assert dbt.fix.startswith(
        "write {{ ref('staging.stg_orders') }} instead of staging.stg_orders in dbt/models/marts/order_totals.sql"
    )
    sqlmesh = findings["sqlmesh:intermediate.sqlm_tier_summary"]
    assert sqlmesh.message.startswith(
        "reads dbt.customer_order_summary as the hard-coded relation analytics.customer_order_summary, bypassing @dbt_model()"
    )
    assert sqlmesh.fix == (
        "write @dbt_model(customer_order_summary) instead of analytics.customer_order_summary "
        "in sqlmesh/models/intermediate/sqlm_tier_summary.sql"
    )
    source = findings["dbt:source:sqlmesh_raw.raw_orders"]
    assert source.message.startswith(
        "source('sqlmesh_raw', 'raw_orders') reads sqlmesh.raw.raw_orders, but it has no meta.sqlmesh_model"
    )
    assert source.fix == (
        "set `meta: {sqlmesh_model: raw.raw_orders}` on table 'raw_orders' of source 'sqlmesh_raw' in "
        "dbt/models/sources.yml, or read it with {{ ref('raw.raw_orders') }}"
    )
    assert source.file == project.root / "dbt/models/sources.yml"


def test_the_example_lists_each_models_rename_and_reads_across_engines_properly(example_project: Path) -> None:
    project = load_project(example_project)
    spec = load_model_organization(project)
    assert spec is not None

    findings = naming_findings(project, load_facts(project), spec)

    assert {f.severity for f in findings} == {"warning"}
    assert {(f.rule, f.model, f.fix.split(":")[0]) for f in findings} == {
        ("naming.sqlmesh_models.prefix", "sqlmesh:raw.raw_customers", "rename it to raw.sqlm_raw_customers"),
        ("naming.sqlmesh_models.prefix", "sqlmesh:raw.raw_orders", "rename it to raw.sqlm_raw_orders"),
        ("naming.sqlmesh_models.prefix", "sqlmesh:staging.stg_orders", "rename it to staging.sqlm_stg_orders"),
        (
            "naming.sqlmesh_models.prefix",
            "sqlmesh:reporting.value_band_summary",
            "rename it to reporting.sqlm_value_band_summary",
        ),
        (
            "naming.shared_interfaces.prefix",
            "sqlmesh:staging.customer_enhanced",
            "rename it to staging.shared_customer_enhanced",
        ),
        (
            "naming.shared_interfaces.prefix",
            "sqlmesh:intermediate.customer_lifetime",
            "rename it to intermediate.shared_customer_lifetime",
        ),
        ("naming.dbt_models.prefix", "dbt:stg_customers", "rename it to dbt_stg_customers"),
        ("naming.dbt_models.prefix", "dbt:stg_completed_orders", "rename it to dbt_stg_completed_orders"),
        ("naming.dbt_models.prefix", "dbt:customer_order_summary", "rename it to dbt_customer_order_summary"),
        ("naming.shared_interfaces.prefix", "dbt:customer_value", "rename it to shared_customer_value"),
    }
    value = next(f for f in findings if f.model == "dbt:customer_value")
    assert value.fix == (
        "rename it to shared_customer_value: rename dbt/models/marts/customer_value.sql to "
        "dbt/models/marts/shared_customer_value.sql (dbt names a model after its file) and its YAML entries; "
        "the contract shared/schemas/customer_value.yml (models[0].name); config/dependency_graph.yml (stage stage_3_dbt); "
        "its readers sqlmesh.reporting.value_band_summary (sqlmesh/models/reporting/value_band_summary.sql)"
    )


def test_an_exemption_from_the_prefixes_keeps_the_cross_engine_checks(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`exempt` is for legacy names: a hard-coded read across the engines reads one schema in
    every environment whatever the model is called, so it stays an error."""
    project = load_project(planted_project(tmp_path_factory.getbasetemp()))
    spec = load_model_organization(project)
    assert spec is not None and spec.naming is not None
    naming = spec.naming.model_copy(
        update={"exempt": [Exemption(models=["order_totals", "intermediate.sqlm_tier_summary"], reason="legacy")]}
    )

    findings = naming_findings(project, load_facts(project), spec.model_copy(update={"naming_conventions": naming}))

    assert {
        (f.rule, f.model, f.severity)
        for f in findings
        if f.model in ("dbt:order_totals", "sqlmesh:intermediate.sqlm_tier_summary")
    } == {
        ("naming.cross_engine_refs.dbt_hard_coded", "dbt:order_totals", "error"),
        ("naming.cross_engine_refs.sqlmesh_hard_coded", "sqlmesh:intermediate.sqlm_tier_summary", "error"),
    }
