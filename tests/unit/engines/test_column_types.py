"""Output column types inferred from SQL and the inputs' types (engines/column_types.py)."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.engines.catalog import CatalogModel
from airflow_provider_dualengine.engines.column_types import output_types
from airflow_provider_dualengine.graph.build import output_columns

ORDERS = {"staging": {"stg_orders": {"order_id": "INT", "customer_id": "INT", "amount": "DECIMAL(10, 2)"}}}


def test_passed_through_cast_and_aggregated_columns_are_typed() -> None:
    sql = """
        select customer_id, count(*) as orders, cast(sum(amount) as decimal(18, 2)) as total,
               max(amount) as biggest, 'x' as tag
        from "shop"."staging"."stg_orders" group by customer_id
    """
    assert output_types(sql, "duckdb", ORDERS) == {
        "customer_id": "INT",
        "orders": "BIGINT",
        "total": "DECIMAL(18, 2)",
        "biggest": "DECIMAL(10, 2)",
        "tag": "TEXT",
    }


def test_a_star_over_a_known_table_expands_and_unknown_columns_stay_untyped() -> None:
    assert output_types("select * from staging.stg_orders", "postgres", ORDERS) == {
        "order_id": "INT",
        "customer_id": "INT",
        "amount": "DECIMAL(10, 2)",
    }
    # columns of a table nobody typed: no guess
    assert output_types("select a, b + 1 as c from elsewhere.t", "duckdb", {}) == {}


def test_sql_that_does_not_parse_raises() -> None:
    with pytest.raises(Exception):  # noqa: B017 - sqlglot's own error; the caller logs it
        output_types("select from from", "duckdb", ORDERS)


def test_declared_types_win_and_inferred_ones_fill_the_rest() -> None:
    model = CatalogModel(
        engine="dbt",
        name="m",
        columns={"Customer_ID": "integer", "total": ""},
        inferred_types={"customer_id": "INT", "total": "DECIMAL(18, 2)", "orders": "BIGINT"},
    )
    assert output_columns(model) == (("Customer_ID", "integer"), ("total", "DECIMAL(18, 2)"), ("orders", "BIGINT"))
