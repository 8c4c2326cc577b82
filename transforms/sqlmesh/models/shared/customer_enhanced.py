"""staging.customer_enhanced: the cross-engine interface read by dbt.

Customer scoring (the "complex Python logic" of the dual-engine seed): a score
between 0 and 100, computed per customer from the tier and the order history.

    score = tier base (bronze 20, silver 40, gold 60)
          + up to 25 points for completed orders  (25 * min(completed_orders, 20) / 20)
          + up to 15 points for completed value   (15 * min(completed_value, 3000) / 3000)
          - up to 10 points for returns           (10 * returned_orders / all_orders)
    clamped to [0, 100] and rounded to 2 decimals.

Data contract: shared/schemas/customer_enhanced.yml.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

import pandas as pd
import sqlglot
from sqlglot import exp
from sqlmesh import ExecutionContext, model

TIER_BASE = {"bronze": 20.0, "silver": 40.0, "gold": 60.0}
ORDERS_CAP = 20
VALUE_CAP = 3000.0


SOURCE_QUERY = """
SELECT
  c.customer_id,
  c.customer_name,
  c.customer_tier,
  COUNT(o.order_id) FILTER (WHERE o.status = 'completed') AS completed_orders,
  COALESCE(SUM(o.amount) FILTER (WHERE o.status = 'completed'), 0)::DOUBLE AS completed_value,
  COUNT(o.order_id) FILTER (WHERE o.status = 'returned') AS returned_orders,
  COUNT(o.order_id) AS all_orders
FROM raw.raw_customers AS c
LEFT JOIN staging.stg_orders AS o ON o.customer_id = c.customer_id
GROUP BY c.customer_id, c.customer_name, c.customer_tier
ORDER BY c.customer_id
"""


def score_customer(tier: str, completed_orders: int, completed_value: float,
                   returned_orders: int, all_orders: int) -> float:
    """Deterministic customer score in [0, 100]."""
    score = TIER_BASE.get(tier, 0.0)
    score += 25.0 * min(completed_orders, ORDERS_CAP) / ORDERS_CAP
    score += 15.0 * min(completed_value, VALUE_CAP) / VALUE_CAP
    if all_orders:
        score -= 10.0 * returned_orders / all_orders
    return round(min(max(score, 0.0), 100.0), 2)


@model(
    "staging.customer_enhanced",
    kind="FULL",
    owner="data-platform",
    cron="@daily",
    grain="customer_id",
    # The SQL below is built at run time, so SQLMesh cannot infer lineage: declare it.
    depends_on=["raw.raw_customers", "staging.stg_orders"],
    columns={
        "customer_id": "int",
        "customer_name": "text",
        "customer_tier": "text",
        "customer_score": "double",
    },
    column_descriptions={
        "customer_id": "Customer key (unique, not null)",
        "customer_score": "Score between 0 and 100 from tier and order history",
    },
    # Audit arguments must be sqlglot expressions: a plain string becomes a string literal
    # ('customer_id'), and the audit would then compare a constant instead of the column.
    audits=[
        ("not_null", {"columns": [exp.column("customer_id"), exp.column("customer_score")]}),
        ("unique_values", {"columns": [exp.column("customer_id")]}),
    ],
    description="Customers enhanced with a 0-100 score (tier + order history).",
)
def execute(
    context: ExecutionContext,
    start: datetime,
    end: datetime,
    execution_time: datetime,
    **kwargs: t.Any,
) -> pd.DataFrame:
    # Written in the project dialect (duckdb) against the model names, then handed to
    # SQLMesh as an expression: the engine adapter renders it for the warehouse
    # (DuckDB or PostgreSQL; `::DOUBLE` alone is not valid PostgreSQL).
    query = exp.replace_tables(
        sqlglot.parse_one(SOURCE_QUERY, dialect="duckdb"),
        {name: context.resolve_table(name) for name in ("raw.raw_customers", "staging.stg_orders")},
        dialect=context.default_dialect,
    )
    df = context.fetchdf(query)
    df["customer_score"] = [
        score_customer(
            row.customer_tier,
            int(row.completed_orders),
            float(row.completed_value),
            int(row.returned_orders),
            int(row.all_orders),
        )
        for row in df.itertuples(index=False)
    ]
    out = df[["customer_id", "customer_name", "customer_tier", "customer_score"]].copy()
    out["customer_id"] = out["customer_id"].astype("int32")
    out["customer_score"] = out["customer_score"].astype("float64")
    return out
