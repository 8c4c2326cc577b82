"""The test cases of `dualengine test` over planted relations in a real DuckDB file: what
each reconciliation check, the contract check and the performance comparison report when
the data agrees and when it does not (the end-to-end runs are in tests/e2e/test_cross_engine_ci.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from airflow_provider_dualengine.config.cross_engine_checks import CrossEngineCheck, KeysMatch, RowCountMatch, SqlCheck
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.hooks.warehouse import Warehouse
from airflow_provider_dualengine.resources.plan import Estimate
from airflow_provider_dualengine.testing import checks
from airflow_provider_dualengine.testing.throwaway import BuildResult, ModelOutcome

LIFETIME = (Engine.SQLMESH, "intermediate.customer_lifetime")
VALUE = (Engine.DBT, "customer_value")
SUMMARY = (Engine.SQLMESH, "reporting.value_band_summary")


@pytest.fixture
def planted(example_project: Path, tmp_path: Path):
    """(scope, warehouse): customers 1-3 in SQLMesh's lifetime, 1, 2 and 4 in dbt's value
    (so one key missing each way, equal counts), and value 2 copied wrongly."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph

    con = duckdb.connect(str(tmp_path / "planted.duckdb"))
    con.execute("CREATE SCHEMA intermediate__dev; CREATE SCHEMA analytics_dev")
    con.execute(
        "CREATE TABLE intermediate__dev.customer_lifetime AS SELECT * FROM (VALUES (1, 10.0), (2, 20.0), (3, 30.0)) t(customer_id, lifetime_value)"
    )
    con.execute(
        "CREATE TABLE analytics_dev.customer_value AS SELECT * FROM (VALUES (1, 10.0, 'low'), (2, 25.0, 'low'), (4, 40.0, 'low')) t(customer_id, lifetime_value, value_band)"
    )
    project = load_project(example_project)
    build = BuildResult(
        outcomes={key: ModelOutcome(key, "built", exists=True) for key in (LIFETIME, VALUE)}
        | {SUMMARY: ModelOutcome(SUMMARY, "blocked", "not built")},
        seconds={LIFETIME: 0.2, VALUE: 5.0},
    )
    scope = checks.Scope(
        project, build_graph(project), project.environment("development"), {LIFETIME, VALUE, SUMMARY}, build
    )
    yield scope, Warehouse(con.cursor(), "duckdb")
    con.close()


def _check(spec, file: Path = Path("/p/shared/tests/c.yml")) -> CrossEngineCheck:
    return CrossEngineCheck(spec, file, "checks[0]")


def _run(planted, *specs) -> dict[str, checks.Case]:
    scope, warehouse = planted
    return {c.name: c for c in checks.consistency_cases(scope, [_check(s) for s in specs], warehouse)}


def test_keys_and_row_counts_report_each_side_and_the_counts(planted) -> None:
    keys = KeysMatch(
        name="keys",
        type="keys_match",
        left="sqlmesh:intermediate.customer_lifetime",
        right="dbt:customer_value",
        key=["customer_id"],
    )
    one_way = keys.model_copy(update={"name": "one_way", "direction": "left_in_right"})
    counts = RowCountMatch(
        name="counts", type="row_count_match", left="intermediate.customer_lifetime", right="customer_value"
    )
    cases = _run(planted, keys, one_way, counts)
    assert cases["keys"].status == "failed"
    assert cases["keys"].message == (
        "1 key(s) of sqlmesh:intermediate.customer_lifetime missing from dbt:customer_value, "
        "1 key(s) of dbt:customer_value missing from sqlmesh:intermediate.customer_lifetime (key: customer_id)"
    )
    assert cases["keys"].models == ("sqlmesh:intermediate.customer_lifetime", "dbt:customer_value")
    assert cases["one_way"].message.startswith("1 key(s) of sqlmesh:intermediate.customer_lifetime missing")
    assert cases["counts"].status == "passed"  # 3 and 3: equal counts hide the swapped key


def test_a_sql_check_fails_with_its_violations_and_a_writing_query_is_refused(planted) -> None:
    scope, warehouse = planted
    wrong = SqlCheck(
        name="values",
        type="sql",
        sql="select v.customer_id from {{ model('dbt:customer_value') }} v join {{ model('sqlmesh:intermediate.customer_lifetime') }} l using (customer_id) where v.lifetime_value <> l.lifetime_value",
    )
    writing = SqlCheck(name="writes", type="sql", sql="delete from {{ model('dbt:customer_value') }}")
    warned = wrong.model_copy(update={"name": "warned", "severity": "warning"})
    cases = _run(planted, wrong, writing, warned)
    assert (cases["values"].status, cases["values"].message) == (
        "failed",
        "1 violating row(s) returned by the check's query",
    )
    assert cases["writes"].status == "failed"
    assert "a `sql` check must be one SELECT" in cases["writes"].message
    assert warehouse.rows('SELECT count(*) FROM "analytics_dev"."customer_value"')[0][0] == 3  # nothing deleted
    assert (cases["warned"].status, cases["warned"].message) == (
        "passed",
        "warning: 1 violating row(s) returned by the check's query",
    )


def test_a_check_on_a_model_that_was_not_built_is_skipped_and_one_outside_the_scope_does_not_run(planted) -> None:
    scope, _ = planted
    summary = RowCountMatch(
        name="summary", type="row_count_match", left="reporting.value_band_summary", right="customer_value"
    )
    outside = RowCountMatch(
        name="outside", type="row_count_match", left="stg_customers", right="customer_order_summary"
    )
    cases = _run(planted, summary, outside)
    assert (cases["summary"].status, cases["summary"].message) == (
        "skipped",
        "not built: sqlmesh:reporting.value_band_summary",
    )
    assert "outside" not in cases


def test_the_contract_of_the_built_relation_names_the_missing_columns_and_the_consumers(planted) -> None:
    from airflow_provider_dualengine.config.contracts import load_contracts

    scope, warehouse = planted
    contracts, _ = load_contracts(scope.project.contracts_path)
    cases = {c.name: c for c in checks.contract_cases(scope, contracts, [], warehouse)}
    built = cases["contract customer_lifetime.yml: the relation built for intermediate.customer_lifetime"]
    assert built.status == "failed"
    assert "FAILED column_exists completed_orders: column completed_orders is missing" in built.message
    assert built.models == ("dbt:customer_value", "sqlmesh:intermediate.customer_lifetime")
    assert built.file == "shared/schemas/customer_lifetime.yml"


def test_a_model_slower_than_twice_its_baseline_and_a_second_more_fails(planted) -> None:
    scope, _ = planted
    baseline = {
        LIFETIME: Estimate(0.15, "history: median of 3 runs", 3),
        VALUE: Estimate(1.0, "history: median of 5 runs", 5),
    }
    cases = {c.name: c for c in checks.performance_cases(scope, baseline, 2.0)}
    assert cases["time of dbt:customer_value"].status == "failed"
    assert cases["time of dbt:customer_value"].message == "5.00 s against 1.00 s (history: median of 5 runs); limit 2x"
    # 0.2 s against 0.15 s: within the limit's 1 s floor
    assert cases["time of sqlmesh:intermediate.customer_lifetime"].status == "passed"
    assert "time of sqlmesh:reporting.value_band_summary" not in cases  # not built
    [none] = checks.performance_cases(scope, "no run history (warehouse unreadable: X)", 2.0)
    assert (none.status, none.message) == ("skipped", "no run history (warehouse unreadable: X)")


def test_a_check_comparing_only_empty_relations_fails_unless_allowed_and_a_trailing_comment_is_harmless(
    planted,
) -> None:
    scope, warehouse = planted
    warehouse.execute('DELETE FROM "intermediate__dev"."customer_lifetime"')
    warehouse.execute('DELETE FROM "analytics_dev"."customer_value"')
    counts = RowCountMatch(
        name="counts", type="row_count_match", left="intermediate.customer_lifetime", right="customer_value"
    )
    allowed = counts.model_copy(update={"name": "allowed", "allow_empty": True})
    commented = SqlCheck(
        name="commented",
        type="sql",
        allow_empty=True,
        sql="select customer_id from {{ model('dbt:customer_value') }}\nwhere lifetime_value < 0\n-- negative values only\n",
    )
    cases = _run(planted, counts, allowed, commented)
    assert cases["counts"].status == "failed"
    assert cases["counts"].message == (
        "sqlmesh:intermediate.customer_lifetime, dbt:customer_value are empty: the check compares nothing "
        "(allow_empty: true if that is expected)"
    )
    assert (cases["allowed"].status, cases["commented"].status) == ("passed", "passed")


def test_the_baseline_is_the_configured_warehouses_run_history_of_the_environment(
    example_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dualengine test` reads the baseline before it points the connection elsewhere: the
    median of each model's recent successful runs, only of the tested environment."""
    import json
    from datetime import UTC, datetime, timedelta

    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph
    from airflow_provider_dualengine.monitoring.history import RunRecord, record
    from airflow_provider_dualengine.testing.suite import _baseline

    path = tmp_path / "warehouse.duckdb"
    now = datetime.now(UTC)

    def run(model: str, engine: str, seconds: float, n: int, environment: str = "development") -> RunRecord:
        return RunRecord(
            "model",
            engine,
            environment,
            model,
            "success",
            "d",
            f"r{n}",
            "t",
            started_at=now - timedelta(hours=n),
            ended_at=now,
            duration_s=seconds,
        )

    with duckdb.connect(str(path)) as con:
        warehouse = Warehouse(con.cursor(), "duckdb")
        record(warehouse, [run("customer_value", "dbt", s, n) for n, s in enumerate([1.0, 3.0, 2.0], 1)])
        record(warehouse, [run("customer_value", "dbt", 50.0, n, "production") for n in (4, 5, 6)])
        record(warehouse, [run("intermediate.customer_lifetime", "sqlmesh", 0.4, 7)])
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    project = load_project(example_project)

    baseline = _baseline(project, build_graph(project), "development")

    assert not isinstance(baseline, str)
    assert baseline[VALUE].seconds == 2.0 and baseline[VALUE].source == "history: median of 3 runs"
    assert baseline[LIFETIME].seconds is None and baseline[LIFETIME].source == "no history (1 recorded run)"
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "none.duckdb")})
    )
    unreadable = _baseline(project, build_graph(project), "development")
    assert isinstance(unreadable, str) and unreadable.startswith(
        "no run history to compare with (warehouse 'dualengine_warehouse' unreadable: "
    )
