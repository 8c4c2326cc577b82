"""The unified model documentation (governance/metadata.py): the document from ModelFacts
built by hand (grouping, SLA and contract, cost buckets, missing descriptions, measured
cost), and against a compiled copy of the example: the committed file is exactly what is
generated, and every description in it comes from the engines' own files.

The compiled copies are made once per test process and shared with
tests/unit/cli/test_docs_cli.py (one compile of the example, one recompile after editing
descriptions)."""

from __future__ import annotations

import functools
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from airflow_provider_dualengine.config.contracts import Contract, ContractColumn, ContractModel, Sla
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.engine_selection import read_engine_selection
from airflow_provider_dualengine.config.monitoring import CostSettings
from airflow_provider_dualengine.governance.facts import ModelFacts
from airflow_provider_dualengine.governance.metadata import (
    DEFAULT_OUTPUT,
    CostInputs,
    CostThresholds,
    MeasuredCost,
    MissingDescription,
    declared_costs,
    load_metadata,
    measured_costs,
    metadata_document,
)
from tests.conftest import EXAMPLE_PROJECT

SQLMESH, DBT = Engine.SQLMESH, Engine.DBT
ROOT = Path("/projects/shop")

# What the edited copy changes (tests/unit/cli/test_docs_cli.py checks the diff names them).
DBT_OLD = "One row per customer, with the SQLMesh customer score."
DBT_NEW = "Customers with their SQLMesh score, one row each (edited)."
SQLMESH_OLD = "Lifetime order statistics per scored customer (customers without orders get 0)."
SQLMESH_NEW = "Order totals per customer over their whole history (edited)."
DROPPED_OLD = "    description: One row per customer with score and completed-order totals.\n"


def _model(engine: Engine, name: str, **kwargs) -> ModelFacts:
    folder = "sqlmesh/models" if engine is SQLMESH else "dbt/models"
    kwargs.setdefault("path", Path(f"{folder}/{name.rsplit('.', 1)[-1]}.sql"))
    return ModelFacts(engine=engine, name=name, kind="FULL", schema=None, **kwargs)


def _contract(name: str, producer: str, file: str, sla: Sla | None) -> Contract:
    model = ContractModel(
        name=name, producer=producer, columns=[ContractColumn(name="id", data_type="integer")], sla=sla
    )
    return Contract(file=ROOT / file, index=0, version=1, model=model)


def _by_name(document: dict) -> dict[str, dict]:
    return {m["name"]: m for m in document["models"]}


# --------------------------------------------------------------------------- from ModelFacts


def test_models_sorted_by_engine_then_name_with_consumers_and_dependencies_grouped_by_engine() -> None:
    enhanced = _model(
        SQLMESH,
        "staging.customer_enhanced",
        description="Customers with a score.",
        description_source="customer_enhanced.py: description",
        path=Path("sqlmesh/models/shared/customer_enhanced.py"),
        upstream=((SQLMESH, "raw.raw_customers"),),
        downstream=((DBT, "stg_customers"), (SQLMESH, "intermediate.customer_lifetime"), (DBT, "customer_value")),
    )
    stg = _model(
        DBT,
        "stg_customers",
        description="One row per customer.",
        description_source="models/staging/schema.yml: description",
        upstream=((SQLMESH, "staging.customer_enhanced"),),
    )
    raw = _model(SQLMESH, "raw.raw_customers", description="Seed.", description_source="raw_customers.sql: description")

    metadata = metadata_document([stg, enhanced, raw], root=ROOT)

    assert [(m["engine"], m["name"]) for m in metadata.document["models"]] == [
        ("sqlmesh", "raw.raw_customers"),
        ("sqlmesh", "staging.customer_enhanced"),
        ("dbt", "stg_customers"),
    ]
    entry = _by_name(metadata.document)["staging.customer_enhanced"]
    assert list(entry) == [
        "name",
        "engine",
        "description",
        "description_from",
        "consumers",
        "dependencies",
        "cost_impact",
    ]
    assert entry["consumers"] == [
        {"engine": "sqlmesh", "models": ["intermediate.customer_lifetime"]},
        {"engine": "dbt", "models": ["customer_value", "stg_customers"]},
    ]
    assert entry["dependencies"] == [{"engine": "sqlmesh", "models": ["raw.raw_customers"]}]
    assert entry["description_from"] == "sqlmesh/models/shared/customer_enhanced.py"
    assert _by_name(metadata.document)["stg_customers"]["description_from"] == "dbt/models/staging/schema.yml"
    assert "dependencies" not in _by_name(metadata.document)["raw.raw_customers"]  # empty sections left out
    assert "consumers" not in _by_name(metadata.document)["stg_customers"]
    assert metadata.missing == []


def test_sla_and_contract_come_from_the_contract_the_model_produces() -> None:
    contract = _contract(
        "staging.customer_enhanced",
        "sqlmesh",
        "shared/schemas/customer_enhanced.yml",
        Sla(freshness="< 1 hour", availability="99.9%"),
    )
    model = _model(SQLMESH, "staging.customer_enhanced", description="x", contracts=(contract,))

    metadata = metadata_document([model], root=ROOT)

    entry = metadata.document["models"][0]
    assert entry["sla"] == {"freshness": "< 1 hour", "availability": "99.9%"}
    assert entry["contract"] == "shared/schemas/customer_enhanced.yml"
    assert list(entry)[-3:] == ["sla", "contract", "cost_impact"]
    text = metadata.text
    assert '      freshness: "< 1 hour"\n      availability: "99.9%"\n' in text
    assert text.startswith("# Generated by `dualengine docs` from the models' own files; do not edit by hand.\n")
    assert yaml.safe_load(text) == metadata.document  # what is written reads back as the document


def test_cost_impact_buckets_from_declared_costs_and_the_files_thresholds(tmp_path: Path) -> None:
    models = [
        _model(SQLMESH, "staging.customer_scoring", description="d"),
        _model(SQLMESH, "staging.fraud_detection", description="d"),
        _model(DBT, "bi_sales", description="d"),
        _model(DBT, "bi_margin", description="d"),
        _model(DBT, "plain", description="d"),
    ]
    rules = tmp_path / "engine_selection_rules.yml"
    rules.write_text(
        "engine_selection:\n"
        "  default_engine: dbt\n"
        "  sqlmesh_conditions:\n    cost_threshold: {monthly_cost_usd: 2000}\n"
        "  dbt_conditions: {monthly_cost_usd_below: 300}\n"
        "  declared:\n"
        "    - {models: [staging.customer_scoring], monthly_cost_usd: 2000}\n"
        "    - {models: ['sqlmesh:staging.fraud_detection'], execution_time_minutes: 45}\n"
        "    - {models: ['sqlmesh:staging.fraud_detection'], monthly_cost_usd: 1999.5}\n"
        "    - {models: ['bi_*'], monthly_cost_usd: 299}\n"
        "    - {models: [bi_sales], monthly_cost_usd: 5000}\n",
        encoding="utf-8",
    )

    costs = declared_costs(read_engine_selection(rules), models)
    document = metadata_document(models, root=tmp_path, costs=costs).document

    assert costs.thresholds == CostThresholds(high=2000.0, medium=300.0)
    assert {m["name"]: m["cost_impact"] for m in document["models"]} == {
        "staging.customer_scoring": "high",  # 2000 >= 2000
        "staging.fraud_detection": "medium",  # the first entry giving a cost: 1999.5, below high, >= 300
        "bi_margin": "low",  # 299 < 300 (the glob named both bi_ models)
        "bi_sales": "low",  # the first entry naming it wins over the later 5000
        "plain": "unknown",  # nothing declared
    }
    assert not any("cost_source" in m for m in document["models"])  # only with run history


def test_default_thresholds_and_no_rules_file() -> None:
    models = [_model(DBT, "plain", description="d")]

    costs = declared_costs(None, models)

    assert (costs.declared, costs.thresholds) == ({}, CostThresholds(high=1000.0, medium=500.0))
    assert metadata_document(models, root=ROOT, costs=costs).document["models"][0]["cost_impact"] == "unknown"
    assert [CostThresholds().bucket(x) for x in (1000, 999.99, 500, 499.99, 0)] == [
        "high",
        "medium",
        "medium",
        "low",
        "low",
    ]


def test_models_without_a_description_get_an_empty_one_and_are_reported_with_where_to_write_it() -> None:
    dbt = _model(DBT, "customer_value", path=Path("dbt/models/marts/customer_value.sql"))
    python = _model(
        SQLMESH, "staging.customer_enhanced", python=True, path=Path("sqlmesh/models/shared/customer_enhanced.py")
    )
    sql = _model(SQLMESH, "raw.raw_orders", path=Path("sqlmesh/models/raw/raw_orders.sql"))

    metadata = metadata_document([dbt, python, sql], root=ROOT)

    assert [(m["name"], m["description"]) for m in metadata.document["models"]] == [
        ("raw.raw_orders", ""),
        ("staging.customer_enhanced", ""),
        ("customer_value", ""),
    ]
    assert not any("description_from" in m for m in metadata.document["models"])
    assert '    description: ""\n' in metadata.text
    assert metadata.missing == [
        MissingDescription(
            "sqlmesh:raw.raw_orders",
            "add `description '...'` to the MODEL block of sqlmesh/models/raw/raw_orders.sql (or a leading -- comment), then `dualengine compile`",
        ),
        MissingDescription(
            "sqlmesh:staging.customer_enhanced",
            "add description=... to the @model decorator in sqlmesh/models/shared/customer_enhanced.py (or a docstring), then `dualengine compile`",
        ),
        MissingDescription(
            "dbt:customer_value",
            "add `description:` under `- name: customer_value` in a properties file (schema.yml) next to dbt/models/marts/customer_value.sql, then `dualengine compile`",
        ),
    ]
    assert str(metadata.missing[2]).startswith("warning: dbt:customer_value has no description\n    fix: add")


def test_measured_cost_from_run_history_overrides_declared_and_says_where_it_came_from() -> None:
    cost = CostSettings(price_per_hour={"small": 2.0}, warehouse_size={"sqlmesh": {"production": "small"}})

    def row(engine: str, model: str, seconds: float, status: str = "success", environment: str = "production") -> dict:
        return {
            "kind": "model",
            "engine": engine,
            "model": model,
            "status": status,
            "environment": environment,
            "duration_s": seconds,
            "started_at": datetime(2026, 12, 1, tzinfo=UTC),
        }

    rows = [
        row("sqlmesh", "staging.stg_orders", 1_800_000),  # 500 h at 2 USD/h = 1000
        row("sqlmesh", "staging.stg_orders", 3600, status="failed"),  # a failed run ran: 2 USD
        row("sqlmesh", "staging.stg_orders", 3600, status="skipped"),  # did not run
        row("sqlmesh", "staging.stg_orders", 3600, environment="development"),  # another environment
        row("dbt", "customer_value", 60),  # dbt has no size in production: not priced
    ]
    measured = measured_costs(rows, cost, "production")
    assert measured == {
        (SQLMESH, "staging.stg_orders"): MeasuredCost(1002.0, executions=2, priced=2),
        (DBT, "customer_value"): MeasuredCost(0.0, executions=1, priced=0),
    }
    models = [
        _model(SQLMESH, "staging.stg_orders", description="d"),
        _model(DBT, "customer_value", description="d"),
        _model(DBT, "stg_customers", description="d"),
    ]
    costs = CostInputs(
        declared={(SQLMESH, "staging.stg_orders"): 10.0, (DBT, "customer_value"): 600.0},
        measured=measured,
        environment="production",
    )

    entries = _by_name(metadata_document(models, root=ROOT, costs=costs).document)

    assert entries["staging.stg_orders"]["cost_impact"] == "high"  # measured 1002 beats declared 10
    assert entries["staging.stg_orders"]["cost_source"] == (
        "history: 1002.00 USD (2 priced runs in production over the last 30 days)"
    )
    assert entries["customer_value"]["cost_impact"] == "medium"  # declared 600, no priced run
    assert entries["customer_value"]["cost_source"] == (
        "declared in config/engine_selection_rules.yml (1 run in production over the last 30 days,"
        " none priced (config/monitoring.yml cost))"
    )
    assert entries["stg_customers"]["cost_impact"] == "unknown"
    assert entries["stg_customers"]["cost_source"] == "no priced run in production over the last 30 days"


# --------------------------------------------------------------------------- the example


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache", "target"))
    return target


def _compile(project_dir: Path) -> Path:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    compile_project(load_project(project_dir))
    return project_dir


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@functools.cache
def compiled_example(base: Path) -> Path:
    """A compiled copy of the example (with its committed model_metadata.yml), made once
    per test process: tests/unit/cli/test_docs_cli.py's fixtures call this too. A copy of
    the example the session's `example_project` fixture compiled: the artifact stays fresh."""
    target = base / "docs-example" / "transforms"
    shutil.copytree(EXAMPLE_PROJECT, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache"))
    return target


@functools.cache
def edited_example(base: Path) -> Path:
    """That copy after a dbt and a SQLMesh description changed and a dbt one was removed,
    recompiled (the committed model_metadata.yml kept as it was)."""
    project = _copy(compiled_example(base), base / "docs-example-edited" / "transforms")
    _edit(project / "dbt/models/staging/schema.yml", DBT_OLD, DBT_NEW)
    _edit(project / "sqlmesh/models/intermediate/customer_lifetime.sql", SQLMESH_OLD, SQLMESH_NEW)
    _edit(project / "dbt/models/marts/schema.yml", DROPPED_OLD, "")
    return _compile(project)


def test_the_committed_example_file_is_what_dualengine_docs_generates(docs_example: Path) -> None:
    """The CI check (`dualengine docs transforms --check`), without the CLI."""
    _, metadata = load_metadata(docs_example)

    committed = (EXAMPLE_PROJECT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    assert metadata.text == committed


def test_every_description_in_the_example_is_read_from_the_engines_own_files(docs_example: Path) -> None:
    _, metadata = load_metadata(docs_example)

    assert metadata.missing == []
    for entry in metadata.document["models"]:
        written = entry["description_from"]
        assert written.startswith(f"{entry['engine']}/models/"), entry
        assert entry["description"] in (docs_example / written).read_text(encoding="utf-8"), entry
    described = _by_name(metadata.document)
    assert described["staging.customer_enhanced"]["description_from"] == "sqlmesh/models/shared/customer_enhanced.py"
    assert described["customer_value"]["description_from"] == "dbt/models/marts/schema.yml"


def test_edited_descriptions_change_the_document_and_a_removed_one_is_reported(edited_docs_example: Path) -> None:
    _, metadata = load_metadata(edited_docs_example)

    entries = _by_name(metadata.document)
    assert entries["stg_customers"]["description"] == DBT_NEW
    assert entries["intermediate.customer_lifetime"]["description"] == SQLMESH_NEW
    assert entries["customer_order_summary"]["description"] == ""
    assert [m.model for m in metadata.missing] == ["dbt:customer_order_summary"]
