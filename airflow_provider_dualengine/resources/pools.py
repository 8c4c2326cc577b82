"""The Airflow pools a project's allocation asks for, and bringing a cluster's pools to
them through the REST API (the same for `dualengine resources apply`, compose's init and
the DAG that runs at every window boundary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.config.resources import ResourcesSpec, load_resources
from airflow_provider_dualengine.resources.allocation import EngineAllocation, allocations


@dataclass(frozen=True)
class PoolChange:
    pool: str
    slots: int
    outcome: str  # created | updated | unchanged | planned
    previous: int | None
    description: str


def environments_with_allocation(project: Project, spec: ResourcesSpec) -> list[str]:
    alloc = spec.resource_allocation
    names = set(alloc.sqlmesh_resources) | set(alloc.dbt_resources)
    return [e for e in project.environments if e in names]


def desired_pools(
    project: Project, moment: datetime, environments: list[str] | None = None, spec: ResourcesSpec | None = None
) -> list[tuple[EngineAllocation, str]]:
    """(allocation, pool description) of every engine pool the project needs at `moment`."""
    spec = spec if spec is not None else load_resources(project)
    wanted = []
    for environment in environments or environments_with_allocation(project, spec):
        for allocation in allocations(project, environment, moment, spec).values():
            if allocation.pool and allocation.slots:
                window = f"; window {allocation.window}" if allocation.window else ""
                description = f"dual-engine: {allocation.engine} in {environment} ({allocation.slots_source}{window})"
                wanted.append((allocation, description[:500]))
    return wanted


def apply_pools(hook: Any, wanted: list[tuple[EngineAllocation, str]], dry_run: bool = False) -> list[PoolChange]:
    if not wanted:  # DuckDB (writer pool only) or no allocation: nothing to ask the API
        return []
    changes = []
    for allocation, description in wanted:
        current = hook.pool(allocation.pool)
        previous = current.get("slots") if current else None
        outcome = "planned" if dry_run else hook.upsert_pool(allocation.pool, allocation.slots, description, current)
        changes.append(PoolChange(allocation.pool, allocation.slots, outcome, previous, description))  # type: ignore[arg-type]
    return changes
