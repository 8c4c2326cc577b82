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
    if shares:
        total, total_source = _warehouse_slots(spec, environment)
        if total:
            slots = max(1, math.floor(total * shares[engine] / 100))
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
        threads=res.threads if res else None,
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
    shared = spec.resource_allocation.coordinated()
    if shared is not None and shared.max_concurrent_queries:
        name = next(n for n, r in spec.resource_allocation.shared_resources.items() if r is shared)
        return shared.max_concurrent_queries, f"shared_resources.{name}"
    parts = [_base_slots(spec, environment, engine)[0] for engine in ENGINES]
    if all(parts):
        return sum(p for p in parts if p), "both engines' slots together"
    return None, ""


def holds_scheduled_work(allocation: EngineAllocation, run_type: str | None) -> bool:
    """Whether the window gate keeps this engine's work of a run waiting: a
    `maintenance_only` engine runs only what people start on purpose (manual runs,
    deployments, backfills), not scheduled or asset-triggered runs."""
    return allocation.execution == "maintenance_only" and run_type in ("scheduled", "asset_triggered")
