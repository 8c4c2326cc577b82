"""Engine selection (governance/features.py, governance/selection.py).

By hand, from ModelFacts built here: each feature's value and source (run history priced
by the cost model, declared values, imports, contracts, exposures, git), and the decision
order (override > SQLMesh conditions > dbt conditions > default).

On a compiled copy of the example with planted cases (compiled once for the module):
a dbt model with a framed window, a SQLMesh model changed 5 times in git, a SQLMesh model
a `force_dbt` glob names, `dbt:stg_*` forced to dbt, a declared cost above the threshold, a
contract promising 99.99%, the example's dashboard exposure, and a force glob that names
nothing. Each is reported with its model, rule and reason, and nothing else is.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.config.contracts import Contract, ContractColumn, ContractModel, Sla
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.engine_selection import EngineSelection, read_engine_selection
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.config.monitoring import CostSettings
from airflow_provider_dualengine.governance.facts import Exposure, ModelFacts
from airflow_provider_dualengine.governance.features import (
    CommitCounts,
    Feature,
    RunHistory,
    git_commit_counts,
    model_features,
)
from airflow_provider_dualengine.governance.findings import Finding
from airflow_provider_dualengine.governance.selection import active_rules, decide, selection_report
from tests.conftest import EXAMPLE_PROJECT

S, D = Engine.SQLMESH, Engine.DBT
ENV = "development"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NO_HISTORY = RunHistory(ENV, unavailable="not read (--no-history)")
NO_GIT = CommitCounts(unavailable="not a git repository")
ALL_RULES = """\
engine_selection:
  default_engine: dbt
  mismatch: error
  sqlmesh_conditions:
    cost_threshold: {monthly_cost_usd: 1000, execution_time_minutes: 30}
    complexity_indicators: {python_required: true, complex_window_functions: true, ml_model_integration: true, complexity_score: 7}
    reliability_requirements: {zero_downtime_deployment: true, sla_availability: "> 99.9%"}
  dbt_conditions:
    monthly_cost_usd_below: 500
    simple_transformations: true
    rapid_iteration_needed: true
    existing_dbt_model: true
    bi_tool_dependency: true
"""


def _spec(tmp_path: Path, extra: str = "") -> EngineSelection:
    path = tmp_path / "engine_selection_rules.yml"
    path.write_text(ALL_RULES + extra, encoding="utf-8")
    return read_engine_selection(path).engine_selection


def _model(engine: Engine, name: str, **kwargs: Any) -> ModelFacts:
    folder = "sqlmesh/models" if engine is S else "dbt/models"
    kwargs.setdefault("path", Path(f"{folder}/{name.rsplit('.', 1)[-1]}.sql"))
    kwargs.setdefault("query", "select 1 as x")
    return ModelFacts(engine=engine, name=name, kind="FULL", schema=None, **kwargs)


def _row(engine: Engine, model: str, seconds: float, days_ago: float, status: str = "success") -> dict[str, Any]:
    start = NOW - timedelta(days=days_ago)
    return {
        "kind": "model",
        "engine": engine.value,
        "environment": ENV,
        "model": model,
        "status": status,
        "started_at": start,
        "ended_at": start + timedelta(seconds=seconds),
        "duration_s": seconds,
        "bytes": None,
    }


PRICED = CostSettings(price_per_hour={"large": 8.0}, warehouse_size={"sqlmesh": {ENV: "large"}, "dbt": {ENV: "large"}})


# --------------------------------------------------------------------------- features by hand


def test_cost_and_run_time_come_from_the_run_history() -> None:
    rows = [_row(D, "orders", s, d) for s, d in ((1800, 20), (2400, 10), (3000, 5), (3600, 1))]
    rows.append(_row(D, "orders", 600, 2, status="failed"))  # costs money, is no run time
    rows.append(_row(D, "other", 99999, 1))
    history = RunHistory(ENV, rows=rows, cost=PRICED)

    features = model_features(_model(D, "orders"), history, NO_GIT)

    # (1800 + 2400 + 3000 + 3600 + 600) s / 3600 * 8 USD/h = 25.333333
    assert features.monthly_cost_usd == Feature(
        25.333333, "history: 5 executions in development in the last 30 days, priced by the cost model"
    )
    # median of the 4 successful runs: (2400 + 3000) / 2 s = 45 minutes
    assert features.execution_time_minutes == Feature(
        45.0, "history: median of the last 4 successful runs in development"
    )


def test_without_enough_history_declared_values_are_used_and_say_so(tmp_path: Path) -> None:
    spec = _spec(
        tmp_path, "  declared:\n    - models: [big_*]\n      monthly_cost_usd: 1500\n      execution_time_minutes: 45\n"
    )
    history = RunHistory(ENV, rows=[_row(D, "big_orders", 60, 1)], cost=CostSettings())  # no price, 1 run

    features = model_features(_model(D, "big_orders"), history, NO_GIT, spec.declared)

    assert features.monthly_cost_usd == Feature(1500.0, "declared in engine_selection_rules.yml (declared[0], 'big_*')")
    assert features.execution_time_minutes == Feature(
        45.0, "declared in engine_selection_rules.yml (declared[0], 'big_*')"
    )


def test_unknown_cost_says_why_and_fires_no_rule(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    model = _model(
        S, "mart.orders", query="select a.x from a join b on a.id = b.id join c on c.id = a.id join d on d.id = a.id"
    )

    features = model_features(model, NO_HISTORY, NO_GIT)
    chosen = decide(model, features, spec, active_rules(spec))

    assert features.monthly_cost_usd == Feature(
        None, "unknown: run history not read (--no-history) and nothing declared"
    )
    assert features.execution_time_minutes == Feature(
        None, "unknown: run history not read (--no-history) and nothing declared"
    )
    assert features.rapid_iteration_needed == Feature(None, "unknown: git: not a git repository and nothing declared")
    assert features.complexity_score == Feature(4, "sqlglot on the rendered SQLMesh query: 1 + 3 joins = 4")
    assert chosen.fired == ()
    assert (chosen.recommended, chosen.decided_by, chosen.mismatch) == (D, "default_engine", True)
    assert chosen.why() == "no rule fired, default_engine is dbt"


def test_a_python_model_has_no_sql_and_ml_imports_count(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    model = _model(
        D,
        "churn_model",
        path=Path("dbt/models/churn_model.py"),
        query=None,
        python=True,
        imports=("pandas", "sklearn", "xgboost"),
    )

    features = model_features(model, NO_HISTORY, NO_GIT)
    chosen = decide(model, features, spec, active_rules(spec))

    assert features.python_required == Feature(True, "dbt model language: python (dbt/models/churn_model.py)")
    assert features.ml_model_integration == Feature(True, "Python model imports sklearn, xgboost")
    assert features.complexity_score == Feature(None, "Python model: no SQL")
    assert features.complex_window_functions == Feature(None, "Python model: no SQL")
    assert [f.rule.name for f in chosen.fired] == ["python_required", "ml_model_integration", "existing_dbt_model"]
    assert (chosen.recommended, chosen.decided_by) == (S, "python_required")


def test_a_python_model_without_ml_imports(tmp_path: Path) -> None:
    model = _model(S, "staging.scored", query=None, python=True, imports=("__future__", "pandas", "sqlmesh"))

    assert model_features(model, NO_HISTORY, NO_GIT).ml_model_integration == Feature(
        False, "Python model imports pandas, sqlmesh (no ML package)"
    )


def test_availability_comes_from_the_contract_and_zero_downtime_from_declared(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  declared:\n    - models: ['sqlmesh:staging.*']\n      zero_downtime_required: true\n")
    contract = Contract(
        file=tmp_path / "shared/schemas/orders.yml",
        index=0,
        version=1,
        model=ContractModel(
            name="staging.orders",
            producer="sqlmesh",
            columns=[ContractColumn(name="id", data_type="integer")],
            sla=Sla(availability="99.95%"),
        ),
    )
    model = _model(S, "staging.orders", contracts=(contract,))

    features = model_features(model, NO_HISTORY, NO_GIT, spec.declared)
    chosen = decide(model, features, spec, active_rules(spec))

    assert features.sla_availability == Feature(99.95, "contract orders.yml: sla.availability 99.95%")
    assert features.zero_downtime_deployment == Feature(
        True, "declared in engine_selection_rules.yml (declared[0], 'sqlmesh:staging.*')"
    )
    assert [f.rule.name for f in chosen.fired] == [
        "zero_downtime_deployment",
        "sla_availability",
        "simple_transformations",
    ]
    assert (chosen.recommended, chosen.decided_by, chosen.mismatch) == (S, "zero_downtime_deployment", False)


def test_an_override_beats_every_condition(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "  override_rules:\n    force_dbt: {models: ['dbt:bi_*'], reason: BI tool integration}\n")
    model = _model(D, "bi_scores", python=True, query=None)

    chosen = decide(model, model_features(model, NO_HISTORY, NO_GIT), spec, active_rules(spec))

    assert (chosen.recommended, chosen.decided_by, chosen.mismatch) == (D, "force_dbt", False)
    assert chosen.why() == "override_rules.force_dbt ('dbt:bi_*'): BI tool integration"
    assert [f.rule.name for f in chosen.fired] == ["python_required", "existing_dbt_model"]


def test_a_score_above_the_threshold_belongs_on_sqlmesh(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    query = (
        "select o.id, rank() over (order by o.amount) as r, lag(o.amount) over (order by o.day) as prev"
        " from o join c on c.id = o.cid join p on p.id = o.pid join s on s.id = o.sid"
    )
    model = _model(D, "joined", query=query)

    chosen = decide(model, model_features(model, NO_HISTORY, NO_GIT), spec, active_rules(spec))

    # 1 + 3 joins + 2 x 2 window functions = 8 > 7 (complexity_score: 7 in ALL_RULES)
    assert (chosen.recommended, chosen.decided_by, chosen.mismatch) == (S, "complex_window_functions", True)
    assert [f.rule.name for f in chosen.fired] == ["complex_window_functions", "complexity_score", "existing_dbt_model"]
    score = next(f for f in chosen.fired if f.rule.name == "complexity_score")
    assert "1 + 3 joins + 2 x 2 window functions = 8" in str(score.feature.source)


def test_rules_switched_off_never_fire(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text("engine_selection:\n  default_engine: sqlmesh\n", encoding="utf-8")
    spec = read_engine_selection(path).engine_selection
    model = _model(D, "ranked", python=True, query=None, exposures=(Exposure("dash", "dashboard"),))

    chosen = decide(model, model_features(model, NO_HISTORY, NO_GIT), spec, active_rules(spec))

    assert active_rules(spec) == []
    assert (chosen.fired, chosen.recommended, chosen.decided_by) == ((), S, "default_engine")


def test_git_outside_a_repository_is_a_reason_not_an_error(tmp_path: Path) -> None:
    counts = git_commit_counts(tmp_path, [Path("models/a.sql")])

    assert counts.counts == {}
    assert counts.unavailable is not None and "not a git repository" in counts.unavailable


# --------------------------------------------------------------------------- planted project

ORDER_RANKING = """\
-- Planted: a framed window and a ranking (complex window functions).
select
    order_id,
    customer_id,
    row_number() over (partition by customer_id order by order_date) as order_number,
    sum(amount) over (partition by customer_id order by order_date rows between unbounded preceding and current row) as running_amount
from {{ ref('stg_completed_orders') }}
"""
TIER_COUNTS = """\
MODEL (name reporting.tier_counts, kind FULL, description 'Planted: simple, named by force_dbt.');
SELECT customer_tier, COUNT(*) AS customers FROM staging.customer_enhanced GROUP BY customer_tier
"""
ORDER_DAYS = """\
MODEL (name reporting.order_days, kind FULL, description 'Planted: changed 5 times in git.');
WITH days AS (SELECT order_date, COUNT(*) AS orders FROM staging.stg_orders GROUP BY order_date),
customers AS (SELECT order_date, COUNT(DISTINCT customer_id) AS customers FROM staging.stg_orders GROUP BY order_date)
SELECT d.order_date, d.orders, c.customers FROM days AS d JOIN customers AS c ON c.order_date = d.order_date
"""
SUMMARY_CONTRACT = """\
version: 1
models:
  - name: customer_order_summary
    columns:
      - name: customer_id
        data_type: integer
    producer: dbt
    consumers: [bi]
    sla:
      availability: "99.99%"
"""
PLANTED_RULES = (
    ALL_RULES
    + """\
  override_rules:
    force_sqlmesh:
      models: ["raw.*", "sqlmesh:staging.stg_orders", "intermediate.*", "reporting.value_band_summary", "fraud_*"]
      reason: "Landing and incremental loads keep SQLMesh's interval tracking"
    force_dbt:
      models: ["dbt:stg_*", "reporting.tier_*"]
      reason: "BI tool integration"
  declared:
    - models: ["customer_value"]
      monthly_cost_usd: 1500
"""
)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def copy_example(target: Path) -> Path:
    shutil.copytree(
        EXAMPLE_PROJECT, target, ignore=shutil.ignore_patterns("target", "logs", ".cache", "*.duckdb", "*.duckdb.wal")
    )
    return target


def compile_copy(project_dir: Path) -> Path:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    compile_project(load_project(project_dir))
    return project_dir


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(tmp_path_factory.mktemp("selection") / "transforms")
    (root / "dbt/models/marts/order_ranking.sql").write_text(ORDER_RANKING, encoding="utf-8")
    (root / "sqlmesh/models/reporting/tier_counts.sql").write_text(TIER_COUNTS, encoding="utf-8")
    (root / "shared/schemas/customer_order_summary.yml").write_text(SUMMARY_CONTRACT, encoding="utf-8")
    (root / "config/engine_selection_rules.yml").write_text(PLANTED_RULES, encoding="utf-8")
    graph = root / "config/dependency_graph.yml"
    text = graph.read_text(encoding="utf-8")
    text = text.replace(
        "models: [customer_order_summary, customer_value]",
        "models: [customer_order_summary, customer_value, order_ranking]",
    )
    text = text.replace(
        "models: [reporting.value_band_summary]",
        "models: [reporting.value_band_summary, reporting.tier_counts, reporting.order_days]",
    )
    graph.write_text(text, encoding="utf-8")
    # reporting.order_days: five commits in the last 30 days; every other file: one.
    order_days = root / "sqlmesh/models/reporting/order_days.sql"
    order_days.write_text(ORDER_DAYS, encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "example")
    for n in range(4):
        order_days.write_text(f"-- revision {n + 2}\n{ORDER_DAYS}", encoding="utf-8")
        _git(root, "commit", "-q", "-am", f"order_days revision {n + 2}")
    return compile_copy(root)


@pytest.fixture(scope="module")
def planted_report(planted: Path):
    from airflow_provider_dualengine.config.engine_selection import load_engine_selection
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.governance.facts import load_facts

    project = load_project(planted)
    spec = load_engine_selection(project)
    assert spec is not None
    return selection_report(project, load_facts(project), spec, ENV, use_history=False)


def _finding(report, model: str) -> Finding:
    [found] = [f for f in report.findings if f.model == model]
    return found


def test_the_planted_cases_and_nothing_else_are_findings(planted_report, planted: Path) -> None:
    rules_file = planted / "config/engine_selection_rules.yml"

    assert [(f.severity, f.rule, f.model, f.file) for f in planted_report.findings] == [
        ("warning", "engine_selection.override_rules", "", rules_file),
        ("error", "engine_selection.rapid_iteration_needed", "sqlmesh:reporting.order_days", planted / "sqlmesh/models/reporting/order_days.sql"),
        ("error", "engine_selection.force_dbt", "sqlmesh:reporting.tier_counts", planted / "sqlmesh/models/reporting/tier_counts.sql"),
        ("error", "engine_selection.sla_availability", "dbt:customer_order_summary", planted / "dbt/models/marts/customer_order_summary.sql"),
        ("error", "engine_selection.monthly_cost_usd", "dbt:customer_value", planted / "dbt/models/marts/customer_value.sql"),
        ("error", "engine_selection.complex_window_functions", "dbt:order_ranking", planted / "dbt/models/marts/order_ranking.sql"),
    ]  # fmt: skip
    assert planted_report.has_errors


def test_a_force_glob_naming_no_model_is_a_warning(planted_report) -> None:
    warning = planted_report.findings[0]

    assert warning.message == "engine_selection.override_rules.force_sqlmesh.models[4]: 'fraud_*' names no model"
    assert warning.fix.startswith("fix the name (a glob matches `engine:name`, the full name or the table name)")


def test_a_dbt_model_with_a_framed_window_belongs_on_sqlmesh(planted_report) -> None:
    finding = _finding(planted_report, "dbt:order_ranking")

    assert finding.message == (
        "runs on dbt, the selection rules recommend sqlmesh: complex_window_functions "
        "[a framed window or 2+ window functions] (yes: sqlglot on the compiled dbt SQL: "
        "2 window functions, 1 with a frame clause)"
    )
    assert finding.fix == "move it to sqlmesh, or add it to override_rules.force_dbt with a reason"


def test_a_sqlmesh_model_changed_often_belongs_on_dbt(planted_report) -> None:
    finding = _finding(planted_report, "sqlmesh:reporting.order_days")

    assert finding.message == (
        "runs on sqlmesh, the selection rules recommend dbt: rapid_iteration_needed [changed often] "
        "(yes: git: 5 commits to sqlmesh/models/reporting/order_days.sql in the last 30 days (5 = rapid))"
    )
    assert finding.fix == "move it to dbt, or add it to override_rules.force_sqlmesh with a reason"


def test_a_force_dbt_glob_moves_a_sqlmesh_model(planted_report) -> None:
    finding = _finding(planted_report, "sqlmesh:reporting.tier_counts")

    assert finding.message == (
        "runs on sqlmesh, the selection rules recommend dbt: override_rules.force_dbt ('reporting.tier_*'): BI tool integration"
    )
    assert finding.fix == "move it to dbt, or take it out of override_rules.force_dbt ('reporting.tier_*')"


def test_a_declared_cost_above_the_threshold_belongs_on_sqlmesh(planted_report) -> None:
    finding = _finding(planted_report, "dbt:customer_value")

    assert finding.message == (
        "runs on dbt, the selection rules recommend sqlmesh: monthly_cost_usd [> 1000 USD/month] "
        "(1500: declared in engine_selection_rules.yml (declared[0], 'customer_value'))"
    )


def test_a_contract_promising_more_availability_belongs_on_sqlmesh(planted_report) -> None:
    finding = _finding(planted_report, "dbt:customer_order_summary")
    [row] = [m for m in planted_report.models if m.model.node_id == "dbt:customer_order_summary"]

    assert finding.message == (
        "runs on dbt, the selection rules recommend sqlmesh: sla_availability [contract availability > 99.9%] "
        "(99.99: contract customer_order_summary.yml: sla.availability 99.99%)"
    )
    # The dashboard exposure fired its dbt rule too; SQLMesh's condition comes first.
    assert [(f.rule.name, f.feature.source) for f in row.fired] == [
        ("sla_availability", "contract customer_order_summary.yml: sla.availability 99.99%"),
        ("existing_dbt_model", "dbt manifest: a model of the dbt project"),
        ("bi_tool_dependency", "dbt exposures: customer_dashboard (dashboard)"),
    ]


def test_every_other_model_stays_where_it_is_for_the_expected_reason(planted_report) -> None:
    decided = {m.model.node_id: (m.recommended.value, m.decided_by) for m in planted_report.models if not m.mismatch}

    assert decided == {
        "sqlmesh:intermediate.customer_lifetime": ("sqlmesh", "force_sqlmesh"),
        "sqlmesh:raw.raw_customers": ("sqlmesh", "force_sqlmesh"),
        "sqlmesh:raw.raw_orders": ("sqlmesh", "force_sqlmesh"),
        "sqlmesh:reporting.value_band_summary": ("sqlmesh", "force_sqlmesh"),
        "sqlmesh:staging.customer_enhanced": ("sqlmesh", "python_required"),
        "sqlmesh:staging.stg_orders": ("sqlmesh", "force_sqlmesh"),
        "dbt:stg_completed_orders": ("dbt", "force_dbt"),
        "dbt:stg_customers": ("dbt", "force_dbt"),
    }
    [stg] = [m for m in planted_report.models if m.model.node_id == "dbt:stg_customers"]
    assert stg.override is not None and (stg.override.glob, stg.override.reason) == ("dbt:stg_*", "BI tool integration")


def test_git_counts_each_model_file(planted_report) -> None:
    rapid = {m.model.node_id: m.features.rapid_iteration_needed.value for m in planted_report.models}

    assert rapid == {node: node == "sqlmesh:reporting.order_days" for node in rapid}
    assert planted_report.git == "git log of the model files, last 30 days"


def test_a_model_both_force_lists_name_is_a_configuration_error(planted: Path, planted_report, tmp_path: Path) -> None:
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.governance.facts import load_facts

    project = load_project(planted)
    rules = tmp_path / "rules.yml"
    rules.write_text(PLANTED_RULES.replace('"reporting.tier_*"', '"sqlmesh:raw.raw_orders"'), encoding="utf-8")
    spec = read_engine_selection(rules)

    with pytest.raises(DualEngineConfigError) as caught:
        selection_report(project, load_facts(project), spec, ENV, use_history=False)

    [issue] = caught.value.issues
    assert (issue.file, issue.key) == (planted / "config/engine_selection_rules.yml", "engine_selection.override_rules")
    assert (
        issue.message
        == "sqlmesh:raw.raw_orders is named by force_sqlmesh ('raw.*') and by force_dbt ('sqlmesh:raw.raw_orders')"
    )
    assert issue.hint == "name it in the list of the engine it must run on only (narrow the other glob)"
