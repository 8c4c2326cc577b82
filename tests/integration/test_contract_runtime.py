"""Run-time contract checks against real tables, on DuckDB and on PostgreSQL.

Each test builds a small `shop.customers` table, breaks one promise and expects exactly
the checks it concerns to fail (or, for a missing column, not to run), with the failing row
count and the keys of failing rows in the message; and expects the table to be untouched
afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors
from pydantic import ValidationError

from airflow_provider_dualengine.config.contracts import ContractModel
from airflow_provider_dualengine.contracts.runtime import ContractReport, check_contract
from airflow_provider_dualengine.hooks import warehouse as warehouse_hook
from airflow_provider_dualengine.operators.contract_check import EVENT_SOURCE, ContractCheckOperator, ContractViolation
from tests.warehouses import Warehouse, postgres_warehouse
from tests.warehouses import duckdb_warehouse as make_duckdb_warehouse

CONN_ID = "contract_warehouse"
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
URI = "duckdb:///warehouse/shop/shop/customers"

CLEAN_ROWS = [
    "(1, 'Ann', 'gold', 90, TIMESTAMP '2025-01-01 11:30:00')",
    "(2, 'Bob', 'silver', 50, TIMESTAMP '2025-01-01 11:00:00')",
    "(3, 'Cy', 'bronze', NULL, TIMESTAMP '2025-01-01 11:45:00')",  # NULL passes a check
]


def contract(**changes: Any) -> dict[str, Any]:
    """The example contract's shape on `shop.customers`, with a freshness column."""
    doc: dict[str, Any] = {
        "name": "shop.customers",
        "columns": [
            {"name": "customer_id", "data_type": "integer", "constraints": [{"type": "not_null"}, {"type": "unique"}]},
            {"name": "customer_name", "data_type": "text"},
            {
                "name": "customer_tier",
                "data_type": "text",
                "constraints": [
                    {"type": "not_null"},
                    {"type": "accepted_values", "values": ["bronze", "silver", "gold"]},
                ],
            },
            {
                "name": "customer_score",
                "data_type": "double",
                "constraints": [{"type": "check", "expression": "customer_score >= 0 AND customer_score <= 100"}],
            },
            {"name": "updated_at", "data_type": "timestamp"},
        ],
        "producer": "sqlmesh",
        "consumers": ["dbt"],
        "sla": {"freshness": "< 1 hour", "freshness_column": "updated_at"},
    }
    doc.update(changes)
    return doc


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """An empty warehouse of each kind, also exposed as the `contract_warehouse` connection."""
    if request.param == "duckdb":
        wh = make_duckdb_warehouse(
            tmp_path / "warehouse.duckdb"
        )  # not shop.duckdb: catalog "shop" would make schema "shop" ambiguous
    else:
        wh = postgres_warehouse(*request.getfixturevalue("postgres_database"))
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", wh.env_json())
    execute(wh, "CREATE SCHEMA shop")
    yield wh


def execute(wh: Warehouse, *statements: str) -> None:
    """Set-up statements (committed); the Warehouse helper only reads."""
    if wh.kind == "duckdb":
        import duckdb

        with duckdb.connect(wh.connection["host"]) as db:
            for sql in statements:
                db.execute(sql)
        return
    import psycopg2

    c = wh.connection
    db = psycopg2.connect(host=c["host"], port=c["port"], user=c["login"], password=c["password"], dbname=c["schema"])
    try:
        with db, db.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        db.close()


def customers(
    wh: Warehouse,
    *rows: str,
    ddl: str = "customer_id integer, customer_name text, customer_tier text, customer_score double precision, updated_at timestamp",
) -> None:
    execute(
        wh,
        f"CREATE TABLE shop.customers ({ddl})",
        *([f"INSERT INTO shop.customers VALUES {', '.join(rows)}"] if rows else []),
    )


def check(wh: Warehouse, doc: dict[str, Any] | None = None, table: str = "customers", **kwargs: Any) -> ContractReport:
    with warehouse_hook.WarehouseHook(CONN_ID).session() as session:
        assert session.dialect == wh.kind
        return check_contract(
            session,
            "shop",
            table,
            ContractModel.model_validate(doc or contract()),
            kwargs.pop("now", NOW),
            **kwargs,
        )


def failed(report: ContractReport) -> dict[tuple[str, str | None], Any]:
    return {(r.check, r.column): r for r in report.failures}


# --- the checks -----------------------------------------------------------------------


def test_a_clean_table_passes_every_check(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    report = check(warehouse)
    assert report.passed, report.summary()
    assert report.failures == [] and report.warnings == []
    kinds = [r.check for r in report.results]
    assert kinds.count("column_exists") == 5 and kinds.count("column_type") == 5
    assert {"relation_exists", "not_null", "unique", "accepted_values", "check", "freshness"} <= set(kinds)
    assert report.summary() == (
        f'Contract shop.customers on "shop"."customers" ({warehouse.kind}):'
        " passed, 17 checks: 0 failed, 0 not run, 0 passed with a warning, 17 passed"
    )  # clean passes stay out of the log text
    json.dumps(report.to_dict())  # JSON-safe, for XCom and Asset extras
    assert report.to_dict()["passed"] is True


def with_email(**constraints: Any) -> dict[str, Any]:
    """The contract plus a promised `email` column carrying every kind of constraint."""
    doc = contract()
    doc["columns"].append(
        {
            "name": "email",
            "data_type": "text",
            "constraints": [
                {"type": "not_null"},
                {"type": "unique"},
                {"type": "accepted_values", "values": ["a@example.com"]},
                {"type": "check", "expression": "email LIKE '%@%'"},
            ],
        }
    )
    return doc


def test_a_missing_column_leaves_every_other_check_reported(warehouse: Warehouse) -> None:
    """`email` was renamed `e_mail`: its own checks are not run (not passed), a check reading a
    name nobody promised fails alone (on PostgreSQL its error aborts the transaction, which
    is reopened) and every other check still reports what it found, a NULL tier included."""
    customers(warehouse, *CLEAN_ROWS, "(4, 'Di', NULL, 10, TIMESTAMP '2025-01-01 11:00:00')")
    execute(warehouse, "ALTER TABLE shop.customers ADD COLUMN e_mail text")
    doc = with_email()
    doc["columns"][1]["constraints"] = [{"type": "check", "expression": "no_such_column > 0"}]
    doc["columns"][3]["constraints"].append({"type": "check", "expression": "customer_score > 0 OR email IS NOT NULL"})
    report = check(warehouse, doc)

    statuses = [(r.check, r.column, r.status) for r in report.results if r.status != "passed"]
    assert statuses == [
        ("column_exists", "email", "failed"),
        ("check", "customer_name", "failed"),
        ("not_null", "customer_tier", "failed"),
        ("check", "customer_score", "not_run"),
        ("not_null", "email", "not_run"),
        ("unique", "email", "not_run"),
        ("accepted_values", "email", "not_run"),
        ("check", "email", "not_run"),
    ]
    passed = {(r.check, r.column) for r in report.results if r.status == "passed"}
    assert {("unique", "customer_id"), ("accepted_values", "customer_tier"), ("freshness", "updated_at")} <= passed
    assert len(passed) == 16 and not report.passed

    spelled = {"duckdb": "VARCHAR", "postgres": "text"}[warehouse.kind]
    assert failed(report)[("column_exists", "email")].message == (
        f"column email is missing; new column e_mail ({spelled}) looks like it was renamed from email"
        " (the table has: customer_id, customer_name, customer_tier, customer_score, updated_at, e_mail)"
    )
    tier = failed(report)[("not_null", "customer_tier")]
    assert (tier.failing_rows, tier.sample) == (1, [4])  # measured after the aborted query
    assert [r.message for r in report.not_run] == [
        "not run: column email is missing (check 'customer_score > 0 OR email IS NOT NULL' reads it)",
        *["not run: column email is missing"] * 4,
    ]

    summary = report.summary().splitlines()
    assert summary[0] == (
        f'Contract shop.customers on "shop"."customers" ({warehouse.kind}):'
        " FAILED, 24 checks: 3 failed, 5 not run, 0 passed with a warning, 16 passed"
    )
    assert summary[1].startswith("  FAILED column_exists email: column email is missing; new column e_mail")
    assert summary[2].startswith("  FAILED check customer_name: could not be evaluated:")
    assert summary[3:] == [
        "  FAILED not_null customer_tier: 1 row with customer_tier NULL; sample customer_id: 4",
        "  NOT RUN check customer_score: column email is missing (check 'customer_score > 0 OR email IS NOT NULL' reads it)",
        "  NOT RUN not_null email: column email is missing",
        "  NOT RUN unique email: column email is missing",
        "  NOT RUN accepted_values email: column email is missing",
        "  NOT RUN check email: column email is missing",
    ]
    counts = report.to_dict()
    assert (counts["passed"], counts["checks"], counts["failed"], counts["not_run"], counts["warnings"]) == (
        False,
        24,
        3,
        5,
        0,
    )
    assert [r["not_run"] for r in counts["results"]].count(True) == 5
    json.dumps(counts)


@pytest.mark.parametrize(
    "added, hint",
    [
        ("contact text", "new column contact"),  # not similar, but the only text column nobody promised
        ("contact text, notes text", None),  # two candidates, neither named like email
        ("contact integer", None),  # an integer cannot hold the promised text
        ("mail text, contact text", "new column mail"),  # similar wins over the other candidate
    ],
)
def test_the_rename_hint_names_only_a_plausible_new_column(warehouse: Warehouse, added: str, hint: str | None) -> None:
    customers(warehouse, *CLEAN_ROWS)
    execute(warehouse, *(f"ALTER TABLE shop.customers ADD COLUMN {column}" for column in added.split(", ")))
    message = failed(check(warehouse, with_email()))[("column_exists", "email")].message
    if hint:
        assert f"is missing; {hint} (" in message and "looks like it was renamed from email" in message
    else:
        assert "renamed" not in message and message.startswith("column email is missing (the table has: ")
    assert message.endswith(f"updated_at, {added.replace(' text', '').replace(' integer', '')})")


def test_a_narrower_or_other_type_fails_and_a_wider_one_warns(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    doc = contract()
    doc["columns"][0]["data_type"] = "bigint"  # table: integer
    doc["columns"][1]["data_type"] = "integer"  # table: text
    doc["columns"][4]["data_type"] = "date"  # table: timestamp
    report = check(warehouse, doc)
    failures = failed(report)
    assert set(failures) == {
        ("column_type", "customer_id"),
        ("column_type", "customer_name"),
        ("column_type", "updated_at"),
    }
    assert failures[("column_type", "customer_id")].message.startswith("narrower type: promised bigint, table has")
    assert failures[("column_type", "customer_name")].message.startswith("different type: promised integer")

    doc = contract()
    doc["columns"][0]["data_type"] = "smallint"
    report = check(warehouse, doc)
    assert report.passed
    assert [(r.check, r.column) for r in report.warnings] == [("column_type", "customer_id")]
    assert "warning column_type customer_id: wider" in report.summary()


def test_nulls_are_counted_with_their_keys(warehouse: Warehouse) -> None:
    customers(
        warehouse,
        *CLEAN_ROWS,
        "(7, 'Dee', NULL, 10, TIMESTAMP '2025-01-01 11:00:00')",
        "(8, 'Eve', NULL, 10, TIMESTAMP '2025-01-01 11:00:00')",
    )
    report = check(warehouse)
    assert list(failed(report)) == [("not_null", "customer_tier")]  # NULL is not an accepted_values failure
    result = failed(report)[("not_null", "customer_tier")]
    assert (result.failing_rows, result.sample, result.sample_key) == (2, [7, 8], "customer_id")
    assert result.message == "2 rows with customer_tier NULL; sample customer_id: 7, 8"
    assert "IS NULL" in result.sql and '"shop"."customers"' in result.sql


def test_a_null_key_is_sampled_by_another_column(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS, "(NULL, 'Nobody', 'gold', 10, TIMESTAMP '2025-01-01 11:00:00')")
    result = failed(check(warehouse))[("not_null", "customer_id")]
    assert (result.failing_rows, result.sample_key, result.sample) == (1, "customer_name", ["Nobody"])


def test_duplicates_are_counted_with_the_repeated_keys(warehouse: Warehouse) -> None:
    dupes = [
        "(2, 'Bob2', 'gold', 1, TIMESTAMP '2025-01-01 11:00:00')",
        "(3, 'Cy2', 'gold', 1, TIMESTAMP '2025-01-01 11:00:00')",
        "(3, 'Cy3', 'gold', 1, TIMESTAMP '2025-01-01 11:00:00')",
    ]
    customers(warehouse, *CLEAN_ROWS, *dupes)
    report = check(warehouse)
    assert list(failed(report)) == [("unique", "customer_id")]
    result = failed(report)[("unique", "customer_id")]
    assert (result.failing_rows, result.sample) == (5, [2, 3])
    assert result.message == "2 values repeated, in 5 rows; sample customer_id: 2, 3"
    assert "FAILED unique customer_id: 2 values repeated, in 5 rows; sample customer_id: 2, 3" in report.summary()


def test_a_failed_check_expression_counts_rows_and_null_passes(warehouse: Warehouse) -> None:
    customers(
        warehouse,
        *CLEAN_ROWS,
        "(4, 'Di', 'gold', 150, TIMESTAMP '2025-01-01 11:00:00')",
        "(5, 'Ed', 'gold', -1, TIMESTAMP '2025-01-01 11:00:00')",
    )
    report = check(warehouse)
    assert list(failed(report)) == [("check", "customer_score")]
    result = failed(report)[("check", "customer_score")]
    assert (result.failing_rows, result.sample) == (2, [4, 5])  # customer 3's NULL score passes
    assert (
        result.message
        == "2 rows failing check 'customer_score >= 0 AND customer_score <= 100'; sample customer_id: 4, 5"
    )
    assert 'NOT ("customer_score" >= 0 AND "customer_score" <= 100)' in result.sql


def test_values_outside_the_accepted_list_fail(warehouse: Warehouse) -> None:
    customers(
        warehouse,
        *CLEAN_ROWS,
        "(6, 'Flo', 'platinum', 10, TIMESTAMP '2025-01-01 11:00:00')",
        "(9, 'Gus', 'Gold', 10, TIMESTAMP '2025-01-01 11:00:00')",
    )
    report = check(warehouse)
    result = failed(report)[("accepted_values", "customer_tier")]
    assert list(failed(report)) == [("accepted_values", "customer_tier")]
    assert (result.failing_rows, result.sample) == (2, [6, 9])
    assert result.message == "2 rows with customer_tier not in ['bronze', 'silver', 'gold']; sample customer_id: 6, 9"
    assert "bronze" not in result.sql  # bound, not spliced


def test_numeric_accepted_values_are_compared_as_numbers(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    doc = contract()
    doc["columns"][3]["constraints"] = [{"type": "accepted_values", "values": [90, 50]}]
    assert failed(check(warehouse, doc)) == {}
    doc["columns"][3]["constraints"] = [{"type": "accepted_values", "values": [90]}]
    assert failed(check(warehouse, doc))[("accepted_values", "customer_score")].sample == [2]


def test_stale_data_fails_the_freshness_sla(warehouse: Warehouse) -> None:
    customers(
        warehouse,
        "(1, 'Ann', 'gold', 90, TIMESTAMP '2025-01-01 10:00:00')",
        "(2, 'Bob', 'gold', 90, TIMESTAMP '2025-01-01 09:00:00')",
    )
    report = check(warehouse)
    assert list(failed(report)) == [("freshness", "updated_at")]
    message = failed(report)[("freshness", "updated_at")].message
    assert message == "stale: max(updated_at) is 2025-01-01T10:00:00+00:00, 2:00:00 old; SLA '< 1 hour'"
    assert check(warehouse, now=NOW - timedelta(hours=1, minutes=30)).passed


def test_freshness_reads_time_zone_aware_columns(warehouse: Warehouse) -> None:
    ddl = "customer_id integer, customer_name text, customer_tier text, customer_score double precision, updated_at timestamp with time zone"
    customers(warehouse, "(1, 'Ann', 'gold', 90, TIMESTAMPTZ '2025-01-01 13:30:00+02:00')", ddl=ddl)  # 11:30 UTC
    doc = contract()
    doc["columns"][4]["data_type"] = "timestamptz"
    assert check(warehouse, doc).passed
    assert failed(check(warehouse, doc, now=NOW + timedelta(hours=1)))[("freshness", "updated_at")].message.endswith(
        "1:30:00 old; SLA '< 1 hour'"
    )


def test_a_check_that_cannot_run_fails_alone(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    doc = contract()
    doc["columns"][3]["constraints"].insert(0, {"type": "check", "expression": "no_such_column > 0"})
    report = check(warehouse, doc)
    assert [(r.check, r.column) for r in report.failures] == [("check", "customer_score")]
    assert (
        report.failures[0].message.startswith("could not be evaluated:")
        and "no_such_column" in report.failures[0].message
    )
    assert all(
        r.passed for r in report.results[report.results.index(report.failures[0]) + 1 :]
    )  # the transaction was reopened


def test_an_empty_table_has_no_fresh_data(warehouse: Warehouse) -> None:
    customers(warehouse)
    report = check(warehouse)
    assert list(failed(report)) == [("freshness", "updated_at")]
    assert "no rows with a updated_at value" in report.failures[0].message


def test_freshness_from_the_producers_last_asset_event(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    doc = contract(sla={"freshness": "< 1 hour"})
    fresh = check(warehouse, doc, last_update=NOW - timedelta(minutes=10))
    assert fresh.passed and fresh.warnings == []
    stale = check(warehouse, doc, last_update=NOW - timedelta(hours=3))
    assert (
        stale.failures[0].message
        == "stale: the producer's last Asset event is 2025-01-01T09:00:00+00:00, 3:00:00 old; SLA '< 1 hour'"
    )
    unknown = check(warehouse, doc)
    assert not unknown.passed and [(r.check, r.column) for r in unknown.failures] == [("freshness", None)]
    assert unknown.failures[0].message == (
        "freshness SLA '< 1 hour' could not be checked: nothing dated the producer's data (the contract names no"
        " freshness_column, and no last write was found; looked up: the producer's last Asset event); the static"
        " check normally prevents this. Fix: give the contract a freshness_column, or make sure the producer's"
        " last write is recorded"
    )


def test_the_freshness_message_names_where_the_last_update_came_from(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    doc = contract(sla={"freshness": "< 1 hour"})
    source = "the SQLMesh interval end of shop.customers"
    stale = check(warehouse, doc, last_update=NOW - timedelta(hours=2), last_update_source=source)
    assert failed(stale)[("freshness", None)].message == (
        f"stale: {source} is 2025-01-01T10:00:00+00:00, 2:00:00 old; SLA '< 1 hour'"
    )
    why = "SQLMesh state records no write of shop.customers in environment 'prod'"
    unknown = check(warehouse, doc, last_update_source=why)
    assert (
        f"no last write was found; looked up: {why}); the static check" in failed(unknown)[("freshness", None)].message
    )


def test_a_missing_freshness_column_leaves_the_sla_not_run(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    report = check(warehouse, contract(sla={"freshness": "< 1 hour", "freshness_column": "loaded_at"}))
    assert [(r.check, r.column, r.message) for r in report.not_run] == [
        ("freshness", "loaded_at", "not run: freshness_column loaded_at is missing, so SLA '< 1 hour' is unchecked")
    ]
    assert report.failures == [] and not report.passed


def test_a_missing_relation_is_one_clear_failure(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    report = check(warehouse, table="customer")
    assert [(r.check, r.passed) for r in report.results] == [("relation_exists", False)]
    assert 'relation "shop"."customer" does not exist' in report.summary()
    assert "schema 'shop' has: customers" in report.summary()


# --- read-only, quoting, validation ---------------------------------------------------


def test_checking_writes_nothing(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS, "(4, 'Di', NULL, 150, TIMESTAMP '2025-01-01 11:00:00')")
    before = warehouse.checksum("shop.customers")
    assert not check(warehouse).passed
    assert warehouse.checksum("shop.customers") == before
    assert warehouse.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'shop'") == 1


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)  # DuckDB has no read-only transactions
def test_postgres_runs_the_checks_in_a_read_only_transaction(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    execute(warehouse, "CREATE SEQUENCE shop.counter")
    doc = contract()
    doc["columns"][3]["constraints"].append({"type": "check", "expression": "nextval('shop.counter') > 0"})
    report = check(warehouse, doc)
    result = [r for r in report.failures if r.check == "check"][0]
    assert "read-only transaction" in result.message
    assert [(r.check, r.column) for r in report.failures] == [("check", "customer_score")]  # later checks still ran
    assert report.results[-1].check == "freshness" and report.results[-1].passed
    assert warehouse.scalar("SELECT last_value FROM shop.counter") == 1 and not warehouse.scalar(
        "SELECT is_called FROM shop.counter"
    )


@pytest.mark.parametrize("warehouse", ["postgres"], indirect=True)
def test_postgres_connections_are_left_without_a_transaction(warehouse: Warehouse) -> None:
    import psycopg2
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE

    customers(warehouse, *CLEAN_ROWS)
    c = warehouse.connection
    db = psycopg2.connect(host=c["host"], port=c["port"], user=c["login"], password=c["password"], dbname=c["schema"])
    try:
        for autocommit in (True, False):
            db.autocommit = autocommit
            assert check_contract(
                warehouse_hook.Warehouse(db.cursor(), "postgres"),
                "shop",
                "customers",
                ContractModel.model_validate(contract()),
                NOW,
            ).passed
            assert db.get_transaction_status() == TRANSACTION_STATUS_IDLE
        db.cursor().execute("SELECT 1")  # a caller's open transaction is not ours to roll back
        with pytest.raises(ValueError, match="without an open transaction"):
            check_contract(
                warehouse_hook.Warehouse(db.cursor(), "postgres"),
                "shop",
                "customers",
                ContractModel.model_validate(contract()),
                NOW,
            )
    finally:
        db.close()


def test_reserved_and_odd_names_are_quoted(warehouse: Warehouse) -> None:
    customers(warehouse, "(1, NULL)", "(2, 5)", ddl='customer_id integer, "select" integer')
    doc = {
        "name": "shop.customers",
        "producer": "dbt",
        "columns": [
            {"name": "customer_id", "data_type": "integer"},
            {"name": "select", "data_type": "integer", "constraints": [{"type": "not_null"}]},
        ],
    }
    result = failed(check(warehouse, doc))[("not_null", "select")]
    assert (result.failing_rows, result.sample) == (1, [1])
    report = check(warehouse, doc, table='customers"; DROP TABLE shop.customers; --')
    assert report.results[0].message.startswith(
        'relation "shop"."customers""; DROP TABLE shop.customers; --" does not exist'
    )
    assert warehouse.scalar("SELECT count(*) FROM shop.customers") == 2


@pytest.mark.parametrize(
    "column, constraint",
    [
        ('bad"name', None),
        ("x; DROP TABLE shop.customers", None),
        ("customer_score", {"type": "check", "expression": "customer_score > 0; DROP TABLE shop.customers"}),
        (
            "customer_score",
            {"type": "check", "expression": "customer_score > (SELECT max(customer_score) FROM shop.customers)"},
        ),
    ],
)
def test_names_and_expressions_that_could_inject_sql_are_refused_by_validation(
    column: str, constraint: dict[str, Any] | None
) -> None:
    doc = contract()
    doc["columns"][3] = {"name": column, "data_type": "double", "constraints": [constraint] if constraint else []}
    with pytest.raises(ValidationError):
        ContractModel.model_validate(doc)


# --- the operator ---------------------------------------------------------------------


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _operator(**kwargs: Any) -> ContractCheckOperator:
    return ContractCheckOperator(
        task_id="contract_customers",
        contract=ContractModel.model_validate(kwargs.pop("doc", contract())).model_dump(),
        schema="shop",
        table="customers",
        conn_id=CONN_ID,
        **kwargs,
    )


def test_the_operator_returns_the_report_and_certifies_the_producer_asset(warehouse: Warehouse) -> None:
    now = datetime.now(UTC)
    customers(warehouse, f"(1, 'Ann', 'gold', 90, TIMESTAMP '{now.replace(tzinfo=None) - timedelta(minutes=5)}')")
    op = _operator(doc=contract(sla={"freshness": "< 1 hour"}), asset_alias="contracts", producer_asset_uri=URI)
    assert op.inlets == [Asset(URI)] and op.outlets == [AssetAlias("contracts")]
    produced, our_own = now - timedelta(minutes=20), now - timedelta(minutes=1)
    inlet_events = {
        Asset(URI): [
            SimpleNamespace(timestamp=produced, extra={"engine": "sqlmesh"}),
            SimpleNamespace(timestamp=our_own, extra={"source": EVENT_SOURCE}),
        ]
    }
    outlet_events = OutletEventAccessors()
    result = op.execute({"inlet_events": inlet_events, "outlet_events": outlet_events})
    assert (
        result["passed"] is True and result["last_update"] == produced.isoformat()
    )  # the check's own event is not the data's age
    json.dumps(result)
    [event] = outlet_events[AssetAlias("contracts")].asset_alias_events
    assert event.dest_asset_key.uri == Asset(URI).uri
    assert (
        event.extra["source"] == EVENT_SOURCE
        and event.extra["model"] == "shop.customers"
        and event.extra["passed"] is True
    )


@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_the_operator_reads_the_newest_events_through_the_task_sdk(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `inlet_events` accessor, with only the supervisor channel it talks to faked."""
    from airflow.sdk.api.datamodels._generated import AssetEventResponse, AssetResponse
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import AssetEventsResult
    from airflow.sdk.execution_time.context import InletEventsAccessors

    customers(warehouse, *CLEAN_ROWS)
    op = _operator(doc=contract(sla={"freshness": "< 1 hour"}), producer_asset_uri=URI)
    now = datetime.now(UTC)
    asset = AssetResponse(name=URI, uri=Asset(URI).uri, group="asset")
    newest_first = [
        AssetEventResponse(
            id=3, timestamp=now - timedelta(minutes=1), extra={"source": EVENT_SOURCE}, asset=asset, created_dagruns=[]
        ),
        AssetEventResponse(
            id=2, timestamp=now - timedelta(minutes=30), extra={"engine": "sqlmesh"}, asset=asset, created_dagruns=[]
        ),
    ]
    sent: list[Any] = []
    comms = SimpleNamespace(send=lambda msg: sent.append(msg) or AssetEventsResult(asset_events=newest_first))
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", comms, raising=False)
    result = op.execute({"inlet_events": InletEventsAccessors(op.inlets), "outlet_events": OutletEventAccessors()})
    assert result["last_update"] == newest_first[1].timestamp.isoformat() and result["passed"] is True
    assert (sent[0].uri, sent[0].ascending, sent[0].limit) == (Asset(URI).uri, False, 20)


def test_the_operator_fails_with_the_summary_and_emits_nothing(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS, "(4, 'Di', NULL, 150, TIMESTAMP '2025-01-01 11:00:00')")
    op = _operator(doc=contract(sla=None), asset_alias="contracts", producer_asset_uri=URI)
    outlet_events, ti = OutletEventAccessors(), _TI()
    with pytest.raises(ContractViolation) as raised:
        op.execute({"inlet_events": {}, "outlet_events": outlet_events, "ti": ti})
    message = str(raised.value)
    assert message.startswith('Contract shop.customers on "shop"."customers"')
    assert "FAILED not_null customer_tier: 1 row with customer_tier NULL; sample customer_id: 4" in message
    assert "FAILED check customer_score: 1 row failing check" in message
    assert raised.value.report is not None and ti.pushed["contract_report"]["failed"] == 2
    assert outlet_events[AssetAlias("contracts")].asset_alias_events == []


def test_the_operator_without_asset_events_fails_freshness(warehouse: Warehouse) -> None:
    customers(warehouse, *CLEAN_ROWS)
    ti = _TI()
    with pytest.raises(ContractViolation) as raised:
        _operator(doc=contract(sla={"freshness": "2 days"}), producer_asset_uri=URI).execute(
            {"inlet_events": {}, "outlet_events": OutletEventAccessors(), "ti": ti}
        )
    assert "FAILED freshness: freshness SLA '2 days' could not be checked: nothing dated" in str(raised.value)
    pushed = ti.pushed["contract_report"]
    assert (pushed["passed"], pushed["failed"], pushed["warnings"], pushed["last_update"]) == (False, 1, 0, None)


def test_the_operator_module_is_cheap_to_import() -> None:
    probe = "import sys, airflow_provider_dualengine.operators.contract_check as m; m.ContractCheckOperator(task_id='t', contract={}, schema='s', table='t'); print(sorted(x for x in ('sqlglot', 'duckdb', 'psycopg2') if x in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
