"""Which columns a query reads from which table: what contracts check consumers against."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.engines.column_reads import STAR, columns_read, schema_of

SCHEMA = schema_of(
    {
        "staging.orders": {"order_id": "int", "customer_id": "int", "amount": "double", "status": "text"},
        "staging.customers": {"customer_id": "int", "name": "text", "tier": "text"},
    }
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # a filter-only column is read: dropping it breaks the query just the same
        (
            "select order_id from staging.orders where status = 'done'",
            {"staging.orders": {"order_id", "status"}},
        ),
        # a select-star CTE reads only what the outer query uses of it
        (
            "with o as (select * from staging.orders) select customer_id, sum(amount) from o group by customer_id",
            {"staging.orders": {"customer_id", "amount"}},
        ),
        # join keys of both sides
        (
            "select c.name from staging.customers c join staging.orders o on o.customer_id = c.customer_id",
            {"staging.customers": {"name", "customer_id"}, "staging.orders": {"customer_id"}},
        ),
        # a table read for its row count only
        ("select count(*) from staging.orders", {"staging.orders": set()}),
        # union branches both read
        (
            "select customer_id from staging.orders union all select customer_id from staging.customers",
            {"staging.orders": {"customer_id"}, "staging.customers": {"customer_id"}},
        ),
        # the catalog part is left out: engines name it differently
        ('select "x"."staging"."orders"."amount" from "x"."staging"."orders"', {"staging.orders": {"amount"}}),
    ],
)
def test_columns_read(sql: str, expected: dict[str, set[str]]) -> None:
    assert columns_read(sql, "duckdb", SCHEMA) == expected


def test_a_star_over_a_table_of_unknown_columns_stays_a_star() -> None:
    assert columns_read("select * from raw.events", "duckdb") == {"raw.events": {STAR}}
    assert columns_read(
        "select e.*, o.amount from raw.events e join staging.orders o on o.order_id = e.id", "duckdb", SCHEMA
    ) == {
        "raw.events": {STAR, "id"},
        "staging.orders": {"amount", "order_id"},
    }


def test_postgres_sql_is_read_in_its_dialect() -> None:
    sql = 'select "amount"::numeric(10, 2) as a from "staging"."orders" where "status" ilike \'d%\''
    assert columns_read(sql, "postgres", SCHEMA) == {"staging.orders": {"amount", "status"}}


def test_sql_that_does_not_parse_raises() -> None:
    from sqlglot.errors import ParseError

    with pytest.raises(ParseError):
        columns_read("select from where", "duckdb")
