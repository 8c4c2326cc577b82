"""What each engine may use in an environment at a given moment: its Airflow pool and
slots, priority, whether scheduled work waits, dbt threads, SQLMesh concurrent tasks and
warehouse session settings. One function, used by `dualengine resources show|apply`, the
window gate, the priority strategy, the plan and the engines' connections.

Precedence for an engine's slots: the execution window's `resource_allocation` share of
the coordinated shared warehouse (or of both engines' slots together), else the engine's
`max_concurrent_queries`, else dbt's `threads`; a `limited` engine with no share gets one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.config.resources import ENGINES, ResourcesSpec, Window, load_resources

PRIORITY_BOOST = 100  # added to the priority weight of the window's priority engine


@dataclass(frozen=True)
class EngineAllocation:
    engine: str
    environment: str
    pool: str | None  # None: the engine's tasks keep the warehouse's writer pool (DuckDB) or default_pool
    slots: int | None
    priority_boost: int = 0
    execution: str = "full"  # full | limited | maintenance_only (in the current window)
    window: str | None = None
    threads: int | None = None  # dbt
    concurrent_tasks: int | None = None  # SQLMesh
    warehouse_size: str | None = None
    auto_suspend: int | None = None
    session: dict[str, Any] = field(default_factory=dict)
    slots_source: str = ""  # how `slots` was decided, for `resources show`


def engine_pool_name(project: Project, environment: str, engine: str) -> str:
    """`dualengine_<project>_<environment>_<engine>`: names from validated identifiers."""
    return f"dualengine_{project.settings.name}_{environment}_{engine}"


def allocations(
    project: Project, environment: str, moment: datetime, spec: ResourcesSpec | None = None
) -> dict[str, EngineAllocation]:
    """Both engines' allocation in `environment` at `moment` (aware)."""
    spec = spec if spec is not None else load_resources(project)
    window = spec.execution_schedule.window_at(moment) if spec.execution_schedule else None
    return {engine: _allocation(project, spec, environment, engine, window) for engine in ENGINES}


def _allocation(
    project: Project, spec: ResourcesSpec, environment: str, engine: str, window: Window | None
) -> EngineAllocation:
    alloc = spec.resource_allocation
    res = alloc.engine(engine, environment)
    base, source = _base_slots(spec, environment, engine)
    slots = base
    execution = window.rules.execution(engine) if window else "full"
    shares = window.rules.shares() if window else {}
    if res is None:
        pass  # no allocation for this engine here: no pool (default_pool), whatever the window says
    elif shares:
        total, total_source = _warehouse_slots(spec, environment)
        if total:
            slots = split_slots(total, shares)[engine]
            source = f"{shares[engine]}% of {total} warehouse slots ({total_source}) in {window.name}"  # type: ignore[union-attr]
    elif execution == "limited":
        slots, source = 1, f"limited in {window.name} with no resource_allocation share"  # type: ignore[union-attr]
    boost = PRIORITY_BOOST if window and window.rules.priority_engine == engine else 0
    # DuckDB: one writer per file, so every writer keeps the one-slot writer pool; engine
    # pools would let two engines write at once.
    pool = (
        engine_pool_name(project, environment, engine) if slots and not project.settings.warehouse.writer_pool else None
    )
    return EngineAllocation(
        engine=engine,
        environment=environment,
        pool=pool,
        slots=slots,
        priority_boost=boost,
        execution=execution,
        window=window.name if window else None,
        # DuckDB: dbt's threads would share the one file its build holds; measured, two threads
        # made each stage build ~5 s slower (the example's run 37 s against 26 s), so one.
        threads=(1 if project.settings.warehouse.writer_pool else res.threads) if res and res.threads else None,
        concurrent_tasks=res.concurrent_tasks if res else None,
        warehouse_size=res.warehouse_size if res else None,
        auto_suspend=res.auto_suspend if res else None,
        session=dict(res.session) if res else {},
        slots_source=source,
    )


def _base_slots(spec: ResourcesSpec, environment: str, engine: str) -> tuple[int | None, str]:
    res = spec.resource_allocation.engine(engine, environment)
    if res is None:
        return None, "no allocation for this engine and environment"
    if res.max_concurrent_queries:
        return res.max_concurrent_queries, f"{engine}_resources.{environment}.max_concurrent_queries"
    if engine == "dbt" and res.threads:
        return res.threads, f"dbt_resources.{environment}.threads"
    if engine == "sqlmesh" and res.concurrent_tasks:
        return res.concurrent_tasks, f"sqlmesh_resources.{environment}.concurrent_tasks"
    return None, "no max_concurrent_queries"


def _warehouse_slots(spec: ResourcesSpec, environment: str) -> tuple[int | None, str]:
    """The slots a window divides in `environment`: both engines' own slots there together,
    capped by the coordinated shared warehouse's `max_concurrent_queries` (each environment
    gets its own pools: two environments on one warehouse are each held to their own)."""
    parts = [_base_slots(spec, environment, engine)[0] for engine in ENGINES]
    own = sum(p for p in parts if p) if all(parts) else None
    shared = spec.resource_allocation.coordinated()
    if shared is not None and shared.max_concurrent_queries:
        name = next(n for n, r in spec.resource_allocation.shared_resources.items() if r is shared)
        if own is None or shared.max_concurrent_queries <= own:
            return shared.max_concurrent_queries, f"shared_resources.{name}"
        return (
            own,
            f"both engines' slots in {environment} together, under shared_resources.{name}'s {shared.max_concurrent_queries}",
        )
    return own, "both engines' slots together" if own else ""


def split_slots(total: int, shares: dict[str, int]) -> dict[str, int]:
    """`total` slots by percentage shares, rounded so they add up to `total` (largest
    remainder), every engine at least one slot (with one slot in all, both get one: a pool
    of zero slots would never run anything)."""
    exact = {engine: total * share / 100 for engine, share in shares.items()}
    slots = {engine: math.floor(value) for engine, value in exact.items()}
    for engine in sorted(exact, key=lambda e: exact[e] - slots[e], reverse=True)[: total - sum(slots.values())]:
        slots[engine] += 1
    return {engine: max(1, n) for engine, n in slots.items()}


MAINTENANCE_RUN_TYPES = ("manual", "backfill")  # started by a person on purpose (deploy DAGs have no gate)


def holds_scheduled_work(allocation: EngineAllocation, run_type: str | None) -> bool:
    """Whether the window gate keeps this engine's work of a run waiting: a
    `maintenance_only` engine runs only what people start on purpose (manual runs,
    backfills; deployments have no gate), not scheduled, asset-triggered or
    operator-triggered runs."""
    return allocation.execution == "maintenance_only" and run_type not in MAINTENANCE_RUN_TYPES
