"""The run-time contract report without a warehouse: how results are counted and summed up
for the on-call reader, and which new column reads as a rename of a missing one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_dualengine.config.contracts import ContractModel
from airflow_provider_dualengine.contracts.runtime import CheckResult, ContractReport, _renames


def report(*results: CheckResult) -> ContractReport:
    return ContractReport(
        "shop.customers", '"shop"."customers"', "duckdb", datetime(2025, 1, 1, tzinfo=UTC), list(results)
    )


OK = CheckResult("relation_exists", None, True, '"shop"."customers" exists')
WIDER = CheckResult("column_type", "customer_id", True, "wider: promised smallint, table has INTEGER", warning=True)
NULLS = CheckResult("not_null", "customer_tier", False, "2 rows with customer_tier NULL; sample customer_id: 7, 8")
SKIPPED = CheckResult("unique", "email", False, "not run: column email is missing", not_run=True)


def test_each_result_has_exactly_one_status_and_not_run_is_never_a_pass() -> None:
    forced = CheckResult("not_null", "email", True, "not run: column email is missing", not_run=True)
    assert forced.passed is False and forced.status == "not_run"
    assert [r.status for r in (OK, WIDER, NULLS, SKIPPED)] == ["passed", "warning", "failed", "not_run"]
    assert not report(OK, SKIPPED).passed and report(OK, SKIPPED).failures == []


def test_the_summary_counts_every_status_and_lists_all_but_clean_passes() -> None:
    assert report(OK, WIDER, NULLS, SKIPPED).summary().splitlines() == [
        'Contract shop.customers on "shop"."customers" (duckdb): FAILED, 4 checks: 1 failed, 1 not run,'
        " 1 passed with a warning, 1 passed",
        "  FAILED not_null customer_tier: 2 rows with customer_tier NULL; sample customer_id: 7, 8",
        "  NOT RUN unique email: column email is missing",
        "  warning column_type customer_id: wider: promised smallint, table has INTEGER",
    ]
    assert (
        report(OK, WIDER)
        .summary()
        .splitlines()[0]
        .endswith(": passed, 2 checks: 0 failed, 0 not run, 1 passed with a warning, 1 passed")
    )


def test_the_xcom_dict_counts_not_run_checks_apart_from_failures() -> None:
    counts = report(OK, WIDER, NULLS, SKIPPED, SKIPPED).to_dict()
    assert {k: counts[k] for k in ("passed", "checks", "failed", "not_run", "warnings")} == {
        "passed": False,
        "checks": 5,
        "failed": 1,
        "not_run": 2,
        "warnings": 1,
    }
    assert counts["results"][-1] | {"sql": None} == {
        "check": "unique",
        "column": "email",
        "status": "not_run",
        "passed": False,
        "warning": False,
        "not_run": True,
        "failing_rows": None,
        "sample_key": None,
        "sample": [],
        "message": "not run: column email is missing",
        "sql": None,
    }


# --- rename hints ---------------------------------------------------------------------


def contract(*columns: tuple[str, str]) -> ContractModel:
    return ContractModel.model_validate(
        {"name": "shop.customers", "producer": "dbt", "columns": [{"name": n, "data_type": t} for n, t in columns]}
    )


def table(*columns: tuple[str, str]) -> dict[str, tuple[str, str]]:
    return {name.lower(): (name, type_text) for name, type_text in columns}


@pytest.mark.parametrize(
    "promised, actual, expected",
    [
        # similar name, same type
        ([("email", "text")], [("e_mail", "VARCHAR")], {"email": ("e_mail", "VARCHAR")}),
        # a wider type still holds the promised values; a narrower one does not
        ([("customer_id", "integer")], [("cust_id", "BIGINT")], {"customer_id": ("cust_id", "BIGINT")}),
        ([("customer_id", "bigint")], [("cust_id", "INTEGER")], {}),
        # not similar, but the only candidate
        ([("email", "text")], [("contact", "VARCHAR")], {"email": ("contact", "VARCHAR")}),
        # two dissimilar candidates: no guess
        ([("email", "text")], [("contact", "VARCHAR"), ("notes", "VARCHAR")], {}),
        # one candidate that two missing columns could have become: no guess
        ([("email", "text"), ("phone", "text")], [("contact", "VARCHAR")], {}),
        # each missing column pairs with its most similar candidate, each candidate used once
        (
            [("email", "text"), ("phone", "text")],
            [("phone_number", "VARCHAR"), ("e_mail", "VARCHAR")],
            {"email": ("e_mail", "VARCHAR"), "phone": ("phone_number", "VARCHAR")},
        ),
        # a similar match leaves the other missing column the only remaining candidate
        (
            [("email", "text"), ("phone", "text")],
            [("e_mail", "VARCHAR"), ("contact", "VARCHAR")],
            {"email": ("e_mail", "VARCHAR"), "phone": ("contact", "VARCHAR")},
        ),
        # a type sqlglot cannot read is no candidate
        ([("email", "text")], [("e_mail", "NOT A TYPE(")], {}),
    ],
)
def test_a_missing_column_is_matched_to_a_plausible_new_one(
    promised: list[tuple[str, str]], actual: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    present = [("customer_name", "VARCHAR")]  # a promised column the table has is never a candidate
    assert _renames(contract(*present, *promised), table(*present, *actual), "duckdb") == expected
