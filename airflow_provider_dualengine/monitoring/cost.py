"""What the model executions of both engines cost, estimated from the run history and the
prices of `config/monitoring.yml` (the seed's DualEngineCostMonitor, as pure functions).

Measured: each execution's seconds (and bytes, where the engine reports them). Estimated:
money. compute_time billing prices an execution at `duration_s / 3600 * price_per_hour`
of the warehouse size its engine uses in its environment; bytes_scanned at
`bytes / 1e12 * price_per_tb`. An execution that cannot be priced (no size or price for
its engine and environment, no bytes, no duration) costs 0 and is counted as unpriced.

A shared resource costs `monthly_cost / days in the month` on every day of the window,
whether anything ran or not, and is allocated to the engines in its `used_by`: in
proportion to their execution seconds that day (`proportional`; equally on a day neither
ran) or equally (`equal`). Everything here is plain arithmetic over history rows, so a
test can check it by hand.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from airflow_provider_dualengine.config.monitoring import ENGINES, Budgets, CostSettings, SharedResource

EXECUTED = ("success", "failed")  # a skipped model did not run: no time, no cost


def is_execution(row: Mapping[str, Any]) -> bool:
    """A model the engine ran (successfully or not)."""
    return row["kind"] == "model" and row["status"] in EXECUTED


def execution_cost(row: Mapping[str, Any], cost: CostSettings) -> float | None:
    """The estimated cost of one model execution; None when it cannot be priced."""
    if cost.billing == "bytes_scanned":
        if cost.price_per_tb is None or row.get("bytes") is None:
            return None
        return row["bytes"] / 1e12 * cost.price_per_tb
    size = cost.size(row["engine"], row["environment"])
    price = cost.price_per_hour.get(size) if size is not None else None
    if price is None or row.get("duration_s") is None:
        return None
    return row["duration_s"] / 3600 * price


def days_in_month(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def shared_daily_cost(resource: SharedResource, day: date) -> float:
    """The resource's monthly cost spread evenly over the days of `day`'s month."""
    return resource.monthly_cost / days_in_month(day)


def allocate(resource: SharedResource, amount: float, execution_s: Mapping[str, float]) -> dict[str, float]:
    """`amount` split between the engines of `used_by` (proportional to their seconds, or equal)."""
    users = list(dict.fromkeys(resource.used_by))
    seconds = {e: max(execution_s.get(e, 0.0), 0.0) for e in users}
    total = sum(seconds.values())
    if resource.cost_allocation == "proportional" and total > 0:
        return {e: amount * seconds[e] / total for e in users}
    return {e: amount / len(users) for e in users}


def _zero() -> dict[str, float]:
    return dict.fromkeys(ENGINES, 0.0)


@dataclass
class DayCost:
    """One UTC day: each engine's own executions, and the shared resources' share."""

    day: date
    direct: dict[str, float] = field(default_factory=_zero)  # cost of the engine's own executions
    execution_s: dict[str, float] = field(default_factory=_zero)
    shared: float = 0.0
    allocated: dict[str, float] = field(default_factory=_zero)  # the shared cost, per engine using it
    executions: int = 0

    @property
    def total(self) -> float:
        return sum(self.direct.values()) + self.shared


@dataclass(frozen=True)
class MonthCost:
    """One calendar month (of the days the window covers) against its budget.

    Budgets are monthly: a month the window covers in part is compared with the budget
    prorated to the days covered."""

    month: str  # "2026-12"
    days: int  # days of the month in the window
    direct: dict[str, float]
    shared: float
    allocated: dict[str, float]
    budget: float | None
    engine_budgets: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.direct.values()) + self.shared

    @property
    def variance(self) -> float | None:
        """Actual minus budget (negative: under budget)."""
        return None if self.budget is None else self.total - self.budget

    @property
    def variance_pct(self) -> float | None:
        return None if self.variance is None or not self.budget else self.variance / self.budget * 100

    def engine_variance(self, engine: str) -> float | None:
        """The engine's cost (its executions plus its share of the shared resources) minus its budget."""
        budget = self.engine_budgets.get(engine)
        return None if budget is None else self.direct[engine] + self.allocated[engine] - budget


@dataclass(frozen=True)
class CostBreakdown:
    """The window's cost: per day, per month, per engine and shared (the seed's cost_breakdown)."""

    currency: str
    days: list[DayCost]
    months: list[MonthCost]
    priced: int  # executions that got a price
    unpriced: int  # executions that could not be priced (cost 0)

    @property
    def direct(self) -> dict[str, float]:
        return {e: sum(d.direct[e] for d in self.days) for e in ENGINES}

    @property
    def shared(self) -> float:
        return sum(d.shared for d in self.days)

    @property
    def by_engine(self) -> dict[str, float]:
        """Each engine's own executions plus its allocated share of the shared resources."""
        return {e: sum(d.direct[e] + d.allocated[e] for d in self.days) for e in ENGINES}

    @property
    def total(self) -> float:
        return sum(self.direct.values()) + self.shared

    @property
    def percentages(self) -> dict[str, float | None]:
        """The seed's breakdown: each engine's own executions and the shared resources as
        parts of the total (they add up to 100); None when nothing cost anything."""
        total = self.total
        parts = {**self.direct, "shared": self.shared}
        return {k: (v / total * 100 if total else None) for k, v in parts.items()}


def daily_costs(rows: Iterable[Mapping[str, Any]], cost: CostSettings, days: Iterable[date]) -> list[DayCost]:
    """Cost per UTC day of every day in `days` and every day an execution started on."""
    by_day = {d: DayCost(d) for d in days}
    for row in rows:
        if not is_execution(row) or row.get("started_at") is None:
            continue
        day = by_day.setdefault(row["started_at"].date(), DayCost(row["started_at"].date()))
        day.executions += 1
        day.execution_s[row["engine"]] += row.get("duration_s") or 0.0
        day.direct[row["engine"]] += execution_cost(row, cost) or 0.0
    for day in by_day.values():
        for resource in cost.shared_resources.values():
            amount = shared_daily_cost(resource, day.day)
            day.shared += amount
            for engine, part in allocate(resource, amount, day.execution_s).items():
                day.allocated[engine] += part
    return [by_day[d] for d in sorted(by_day)]


def monthly_costs(days: Iterable[DayCost], budgets: Budgets) -> list[MonthCost]:
    """The days summed per calendar month, with the budgets prorated to the days covered."""
    months: dict[str, list[DayCost]] = {}
    for day in days:
        months.setdefault(day.day.strftime("%Y-%m"), []).append(day)
    found = []
    for month, members in sorted(months.items()):
        fraction = len(members) / days_in_month(members[0].day)
        found.append(
            MonthCost(
                month=month,
                days=len(members),
                direct={e: sum(d.direct[e] for d in members) for e in ENGINES},
                shared=sum(d.shared for d in members),
                allocated={e: sum(d.allocated[e] for d in members) for e in ENGINES},
                budget=None if budgets.monthly is None else budgets.monthly * fraction,
                engine_budgets={e: b * fraction for e, b in budgets.per_engine.items()},
            )
        )
    return found


def cost_breakdown(
    rows: Iterable[Mapping[str, Any]], cost: CostSettings, budgets: Budgets, days: Iterable[date] = ()
) -> CostBreakdown:
    """Everything above for the rows of a window covering `days` (UTC dates)."""
    rows = list(rows)
    executions = [r for r in rows if is_execution(r)]
    priced = sum(1 for r in executions if execution_cost(r, cost) is not None)
    per_day = daily_costs(rows, cost, days)
    return CostBreakdown(
        currency=cost.currency,
        days=per_day,
        months=monthly_costs(per_day, budgets),
        priced=priced,
        unpriced=len(executions) - priced,
    )
