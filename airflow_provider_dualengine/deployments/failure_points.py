"""Where a deployment can fail, and which task of the deploy DAG stands for which point.

The deploy DAG (factory/deploy_dag.py) runs `prepare`, then one task group per stage:
`validation`, `staging_deployment`, `integration_validation`, `promotion`, then `conclude`.
A failed task's point is read from where it sits in that structure (Airflow names a task
by its task-group path, `group.subgroup.task`): the top-level group, and inside staging,
the engine's task group (`sqlmesh`, `dbt`) or a contract check of green.
The earliest point in pipeline order decides the rollback (deployments/rollback.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class FailurePoint(StrEnum):
    """Where a deployment stopped, in pipeline order."""

    VALIDATION = "validation"
    SQLMESH_DEPLOYMENT = "sqlmesh_deployment"
    DBT_DEPLOYMENT = "dbt_deployment"
    INTEGRATION_VALIDATION = "integration_validation"
    PRODUCTION_PROMOTION = "production_promotion"


# Top-level task groups of the deploy DAG that are one failure point each.
STAGE_GROUPS: Mapping[str, FailurePoint] = MappingProxyType(
    {
        "validation": FailurePoint.VALIDATION,
        "integration_validation": FailurePoint.INTEGRATION_VALIDATION,
        "promotion": FailurePoint.PRODUCTION_PROMOTION,
    }
)
# The group that builds green: the project's stages rendered into it.
STAGING_GROUP = "staging_deployment"
# A contract check on a green table (task `contract__<model>` of a stage) validates the
# integration, whichever engine built the table.
CONTRACT_TASK_PREFIX = "contract__"
# Inside staging, the engine task group a task sits in; tasks in no engine group belong to SQLMesh's side.
DBT_GROUP = "dbt"


def failure_point_of(task_id: str) -> FailurePoint | None:
    """The failure point a failed task of the deploy DAG stands for (None: none, e.g. `prepare`)."""
    top, *inner = task_id.split(".")
    if top != STAGING_GROUP:
        return STAGE_GROUPS.get(top)
    if any(part.startswith(CONTRACT_TASK_PREFIX) for part in inner):
        return FailurePoint.INTEGRATION_VALIDATION
    if DBT_GROUP in inner[:-1]:
        return FailurePoint.DBT_DEPLOYMENT
    return FailurePoint.SQLMESH_DEPLOYMENT


def task_failure_points(task_ids: Iterable[str]) -> dict[str, FailurePoint]:
    """Task -> failure point, for every task of the deploy DAG that has one."""
    return {task: point for task in task_ids if (point := failure_point_of(task)) is not None}


def failure_point(states: Mapping[str, Any]) -> tuple[FailurePoint | None, str | None]:
    """(failure point, first failed task standing for it) from a run's task states: the
    earliest point in pipeline order; (None, None) when no task failed."""
    points = task_failure_points(states)
    found: dict[FailurePoint, str] = {}
    for task in sorted(t for t, s in states.items() if str(s) == "failed" and t in points):
        found.setdefault(points[task], task)
    for point in FailurePoint:
        if point in found:
            return point, found[point]
    return None, None
