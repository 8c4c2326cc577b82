"""A rollback as a value: built from where a deployment failed and what its record holds,
written into the record, then applied step by step.

What each failure point undoes (`UNDO`), in order:
- validation: nothing, nothing was built;
- SQLMesh deployment: nothing to drop - SQLMesh's prod views never moved and its green
  environment is re-planned by the next deployment; dbt never started;
- dbt deployment: dbt's idle slot is dropped; SQLMesh's green environment stays valid;
- integration validation: both of the above;
- production promotion: prod returns to the layer saved when the deployment started (both
  engines, SQLMesh state included) if the promotion had committed.
Afterwards, always: prod's checksums must equal those saved before the deployment.

Building a plan runs nothing. Applying one acts only on names of a record that
deployments/saved.py has checked against the engines (`Saved`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.deployments import dbt_slots
from airflow_provider_dualengine.deployments.failure_points import FailurePoint
from airflow_provider_dualengine.deployments.promotion import swap
from airflow_provider_dualengine.deployments.saved import Saved
from airflow_provider_dualengine.hooks.warehouse import Warehouse

if TYPE_CHECKING:
    from airflow_provider_dualengine.deployments.coordinator import DeploymentSite


class Undo(StrEnum):
    """One kind of step a rollback takes."""

    DBT = "dbt"  # drop the dbt slot the deployment built into
    SQLMESH = "sqlmesh"  # leave SQLMesh's prod as it is; green stays for the next deployment
    PROD = "prod"  # swap prod back to the saved layer and restore SQLMesh's state


UNDO: Mapping[FailurePoint, tuple[Undo, ...]] = MappingProxyType(
    {
        FailurePoint.VALIDATION: (),
        FailurePoint.SQLMESH_DEPLOYMENT: (Undo.SQLMESH,),
        FailurePoint.DBT_DEPLOYMENT: (Undo.DBT,),
        FailurePoint.INTEGRATION_VALIDATION: (Undo.DBT, Undo.SQLMESH),
        FailurePoint.PRODUCTION_PROMOTION: (Undo.PROD,),
    }
)
PROD_CHECKSUMS = "prod's checksums equal those saved when the deployment started"


@dataclass(frozen=True)
class RollbackStep:
    undo: Undo
    target: str  # what the step acts on: a dbt slot, SQLMesh's green environment, prod
    action: str  # what will be done
    outcome: str  # what the summary says once it is done


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback will undo, in which order, for which failure point, checked how afterwards."""

    deployment_id: str
    failure_point: FailurePoint
    steps: tuple[RollbackStep, ...]
    checks: tuple[str, ...] = (PROD_CHECKSUMS,)

    @property
    def restores_prod(self) -> bool:
        """Whether a step swaps prod back (it needs the promoted layer and SQLMesh's saved state)."""
        return any(step.undo is Undo.PROD for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        """The plan as the deployment record keeps it (`details.rollback`)."""
        return {
            "failure_point": str(self.failure_point),
            "steps": [
                {"undo": str(s.undo), "target": s.target, "action": s.action, "outcome": s.outcome} for s in self.steps
            ],
            "checks": list(self.checks),
        }


def plan_rollback(failure_point: FailurePoint | str, record: Mapping[str, Any], green_environment: str) -> RollbackPlan:
    """The rollback of the deployment `record` stopped at `failure_point`; runs nothing.

    `green_environment` is the SQLMesh environment the deployment built into. Prod is
    swapped back only if the record says the promotion committed (it holds the promoted
    layer, `target`)."""
    point = FailurePoint(failure_point)
    details = record.get("details")
    details = details if isinstance(details, Mapping) else {}
    steps = []
    for undo in UNDO[point]:
        if undo is Undo.DBT:
            slot = str(details.get("dbt_slot"))
            steps.append(RollbackStep(undo, slot, f"drop dbt slot {slot}", f"dbt slot {slot} dropped"))
        elif undo is Undo.SQLMESH:
            steps.append(
                RollbackStep(
                    undo,
                    green_environment,
                    f"leave SQLMesh prod as it is and {green_environment} for the next deployment to re-plan",
                    f"SQLMesh prod untouched, {green_environment} left for the next deployment to re-plan",
                )
            )
        elif "target" in details:
            steps.append(
                RollbackStep(
                    undo,
                    "prod",
                    "swap prod back to the layer saved before the deployment and restore SQLMesh's state",
                    "prod swapped back to the previous layer, SQLMesh state restored",
                )
            )
    return RollbackPlan(str(record["id"]), point, tuple(steps))


def apply_rollback(plan: RollbackPlan, warehouse: Warehouse, site: DeploymentSite, ctx: Any, kept: Saved) -> list[str]:
    """Take the plan's steps in order; returns what was undone, for the summary. Names come
    from `kept`, the record as deployments/saved.py checked it (with `restore` if the plan
    restores prod)."""
    undone = []
    for step in plan.steps:
        if step.undo is Undo.DBT:
            dbt_slots.drop_slot(warehouse, site.dbt_live_schema, kept.dbt_slot)
        elif step.undo is Undo.PROD:
            if kept.target is None:
                raise ValueError(f"rollback of {plan.deployment_id}: the checked record lacks the promoted layer")
            restore_prod(warehouse, site, ctx, kept)
        # Undo.SQLMESH: SQLMesh's prod views never moved. The green environment is kept, not
        # invalidated: the next deployment re-plans it (a plan with selected models into a
        # freshly invalidated environment would leave unselected models out).
        undone.append(step.outcome)
    return undone


def restore_prod(warehouse: Warehouse, site: DeploymentSite, ctx: Any, kept: Saved) -> float:
    """Swap prod back to the (checked) layer saved before a deployment and restore SQLMesh's
    state; returns the swap's window in seconds."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import restore_state

    window = swap(warehouse, kept.before, kept.target)
    restore_state(ctx, kept.sqlmesh_state, site.sqlmesh_environment)
    return window
