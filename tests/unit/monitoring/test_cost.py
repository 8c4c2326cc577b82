"""The cost model by hand: prices per compute-hour or per TB, shared resources per day and
their allocation, monthly totals against prorated budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dualengine.config.monitoring import Budgets, CostSettings, SharedResource
from airflow_provider_dualengine.monitoring.cost import (
    allocate,
    cost_breakdown,
    daily_costs,
    execution_cost,
    monthly_costs,
    shared_daily_cost,
)

PRICES = {"x-small": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0}
SIZES = {"sqlmesh": {"development": "small", "production": "large"}, "dbt": {"development": "x-small"}}


def row(engine: str, seconds: float | None, at: datetime, **fields: Any) -> dict[str, Any]:
    """A run history row as history.read returns it."""
    return {
        "kind": "model",
        "engine": engine,
        "environment": "development",
        "model": "m",
        "status": "success",
        "started_at": at,
        "ended_at": at + timedelta(seconds=seconds or 0),
        "duration_s": seconds,
        "bytes": None,
        **fields,
    }


DEC_30 = datetime(2026, 12, 30, 8, tzinfo=UTC)


def test_two_sqlmesh_runs_of_half_an_hour_on_small_cost_two_dollars() -> None:
    cost = CostSettings(price_per_hour=PRICES, warehouse_size=SIZES)
    rows = [row("sqlmesh", 1800, DEC_30), row("sqlmesh", 1800, DEC_30 + timedelta(hours=1))]
    assert [execution_cost(r, cost) for r in rows] == [1.0, 1.0]
    breakdown = cost_breakdown(rows, cost, Budgets())
    assert breakdown.direct == {"sqlmesh": 2.0, "dbt": 0.0}
    assert breakdown.total == 2.0
    assert breakdown.percentages == {"sqlmesh": 100.0, "dbt": 0.0, "shared": 0.0}
    assert (breakdown.priced, breakdown.unpriced) == (2, 0)


def test_size_follows_engine_and_environment() -> None:
    cost = CostSettings(price_per_hour=PRICES, warehouse_size=SIZES)
    assert execution_cost(row("sqlmesh", 900, DEC_30, environment="production"), cost) == 2.0  # large: 8/h * 1/4 h
    assert execution_cost(row("dbt", 3600, DEC_30), cost) == 1.0  # x-small
    # dbt has no size in production: not priced, rather than guessed
    assert execution_cost(row("dbt", 3600, DEC_30, environment="production"), cost) is None
    assert execution_cost(row("sqlmesh", None, DEC_30), cost) is None


def test_bytes_scanned_billing_prices_bytes_and_counts_rows_without_bytes() -> None:
    cost = CostSettings(billing="bytes_scanned", price_per_tb=5.0)
    rows = [row("dbt", 10, DEC_30, bytes=2 * 10**12), row("dbt", 10, DEC_30, bytes=None)]
    assert execution_cost(rows[0], cost) == 10.0
    breakdown = cost_breakdown(rows, cost, Budgets())
    assert breakdown.total == 10.0
    assert (breakdown.priced, breakdown.unpriced) == (1, 1)


def test_skipped_models_and_contract_checks_cost_nothing() -> None:
    cost = CostSettings(price_per_hour=PRICES, warehouse_size=SIZES)
    rows = [row("sqlmesh", 3600, DEC_30, status="skipped"), row("sqlmesh", 3600, DEC_30, kind="contract_check")]
    breakdown = cost_breakdown(rows, cost, Budgets())
    assert breakdown.total == 0.0
    assert (breakdown.priced, breakdown.unpriced) == (0, 0)


def test_shared_resource_of_31_a_month_costs_1_a_day_in_december_allocated_3_to_1_by_seconds() -> None:
    staging = SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0)
    assert shared_daily_cost(staging, date(2026, 12, 7)) == 1.0
    assert shared_daily_cost(staging, date(2026, 2, 7)) == pytest.approx(31.0 / 28)
    assert allocate(staging, 1.0, {"sqlmesh": 3600.0, "dbt": 1200.0}) == {"sqlmesh": 0.75, "dbt": 0.25}
    equal = SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0, cost_allocation="equal")
    assert allocate(equal, 1.0, {"sqlmesh": 3600.0, "dbt": 1200.0}) == {"sqlmesh": 0.5, "dbt": 0.5}
    # a day neither engine ran: proportional has nothing to go by, so equal
    assert allocate(staging, 1.0, {}) == {"sqlmesh": 0.5, "dbt": 0.5}
    only_dbt = SharedResource(used_by=["dbt"], monthly_cost=31.0)
    assert allocate(only_dbt, 1.0, {"sqlmesh": 3600.0}) == {"dbt": 1.0}


def test_daily_costs_cover_every_day_of_the_window_and_allocate_by_that_days_seconds() -> None:
    cost = CostSettings(
        price_per_hour=PRICES,
        warehouse_size=SIZES,
        shared_resources={"staging_warehouse": SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0)},
    )
    rows = [row("sqlmesh", 3600, DEC_30), row("dbt", 1200, DEC_30 + timedelta(hours=2))]
    days = daily_costs(rows, cost, [date(2026, 12, 30), date(2026, 12, 31)])
    assert [d.day for d in days] == [date(2026, 12, 30), date(2026, 12, 31)]
    first, second = days
    assert first.direct == {"sqlmesh": 2.0, "dbt": pytest.approx(1 / 3)}  # 1 h at 2.0; 20 min at 1.0
    assert first.execution_s == {"sqlmesh": 3600.0, "dbt": 1200.0}
    assert first.shared == 1.0
    assert first.allocated == {"sqlmesh": 0.75, "dbt": 0.25}
    assert first.total == pytest.approx(2.0 + 1 / 3 + 1.0)
    assert (second.executions, second.direct, second.shared) == (0, {"sqlmesh": 0.0, "dbt": 0.0}, 1.0)
    assert second.allocated == {"sqlmesh": 0.5, "dbt": 0.5}


def test_months_are_compared_with_the_budget_prorated_to_the_days_covered() -> None:
    cost = CostSettings(
        price_per_hour=PRICES,
        warehouse_size=SIZES,
        shared_resources={"staging_warehouse": SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0)},
    )
    budgets = Budgets(monthly=310.0, per_engine={"sqlmesh": 62.0})
    window = [date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 2)]
    days = daily_costs([row("sqlmesh", 1800, DEC_30)], cost, window)
    december, january = monthly_costs(days, budgets)
    assert (december.month, december.days, january.month, january.days) == ("2026-12", 2, "2027-01", 2)
    # December: 1.0 of execution + 2 days of the shared 1.0 a day, against 2/31 of 310
    assert december.direct == {"sqlmesh": 1.0, "dbt": 0.0}
    assert december.shared == 2.0
    assert december.total == 3.0
    assert december.budget == pytest.approx(20.0)
    assert december.variance == pytest.approx(-17.0)
    assert december.variance_pct == pytest.approx(-85.0)
    # sqlmesh: 1.0 own + 1.0 (alone on Dec 30) + 0.5 (nobody ran on Dec 31) against 2/31 of 62
    assert december.allocated == {"sqlmesh": 1.5, "dbt": 0.5}
    assert december.engine_variance("sqlmesh") == pytest.approx(2.5 - 4.0)
    assert december.engine_variance("dbt") is None  # no budget for dbt
    assert january.total == pytest.approx(2.0)
    no_budget = monthly_costs(days, Budgets())[0]
    assert (no_budget.budget, no_budget.variance, no_budget.variance_pct) == (None, None, None)


def test_breakdown_follows_the_seeds_percentages_and_allocates_shared_to_engines() -> None:
    cost = CostSettings(
        price_per_hour=PRICES,
        warehouse_size=SIZES,
        shared_resources={"staging_warehouse": SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0)},
    )
    rows = [row("sqlmesh", 3600, DEC_30), row("dbt", 3600, DEC_30)]  # 2.0 and 1.0
    breakdown = cost_breakdown(rows, cost, Budgets(), [date(2026, 12, 30)])
    assert breakdown.total == 4.0
    assert breakdown.shared == 1.0
    assert breakdown.percentages == {"sqlmesh": 50.0, "dbt": 25.0, "shared": 25.0}
    assert breakdown.by_engine == {"sqlmesh": 2.5, "dbt": 1.5}  # the shared 1.0 split 1:1 by seconds
    assert sum(breakdown.by_engine.values()) == breakdown.total


def test_nothing_configured_costs_nothing() -> None:
    breakdown = cost_breakdown([row("sqlmesh", 3600, DEC_30)], CostSettings(), Budgets(), [date(2026, 12, 30)])
    assert breakdown.total == 0.0
    assert breakdown.percentages == {"sqlmesh": None, "dbt": None, "shared": None}
    assert (breakdown.priced, breakdown.unpriced) == (0, 1)
    assert not CostSettings().configured
