"""The rollback plan as a value: every failure point's steps, from a synthetic record; no engines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_dualengine.deployments.failure_points import FailurePoint
from airflow_provider_dualengine.deployments.rollback import (
    PROD_CHECKSUMS,
    UNDO,
    RollbackPlan,
    RollbackStep,
    Undo,
    plan_rollback,
)

GREEN = "prod_green"
DROP_SLOT = RollbackStep(
    Undo.DBT, "analytics__green", "drop dbt slot analytics__green", "dbt slot analytics__green dropped"
)
KEEP_SQLMESH = RollbackStep(
    Undo.SQLMESH,
    GREEN,
    f"leave SQLMesh prod as it is and {GREEN} for the next deployment to re-plan",
    f"SQLMesh prod untouched, {GREEN} left for the next deployment to re-plan",
)
SWAP_BACK = RollbackStep(
    Undo.PROD,
    "prod",
    "swap prod back to the layer saved before the deployment and restore SQLMesh's state",
    "prod swapped back to the previous layer, SQLMesh state restored",
)


def record(promoted: bool = False) -> dict[str, Any]:
    """A deployment record as `start` leaves it (and `promote`, with `promoted`)."""
    details: dict[str, Any] = {"format": 2, "dbt_slot": "analytics__green", "before": {}, "checksums_before": []}
    if promoted:
        details["target"] = {}
    return {"id": "production-20250102T030405-abc123", "status": "running", "details": details}


@pytest.mark.parametrize(
    ("point", "promoted", "steps"),
    [
        (FailurePoint.VALIDATION, False, ()),
        (FailurePoint.SQLMESH_DEPLOYMENT, False, (KEEP_SQLMESH,)),
        (FailurePoint.DBT_DEPLOYMENT, False, (DROP_SLOT,)),
        (FailurePoint.INTEGRATION_VALIDATION, False, (DROP_SLOT, KEEP_SQLMESH)),
        (FailurePoint.PRODUCTION_PROMOTION, True, (SWAP_BACK,)),
        # the promotion failed before its commit: prod never moved, nothing to swap back
        (FailurePoint.PRODUCTION_PROMOTION, False, ()),
    ],
)
def test_every_failure_point_has_its_steps_in_order(point: FailurePoint, promoted: bool, steps: tuple) -> None:
    plan = plan_rollback(point, record(promoted), GREEN)
    assert plan == RollbackPlan("production-20250102T030405-abc123", point, steps, (PROD_CHECKSUMS,))
    assert plan.restores_prod == (SWAP_BACK in steps)


def test_every_failure_point_is_planned() -> None:
    assert set(UNDO) == set(FailurePoint)
    for point in FailurePoint:
        assert [s.undo for s in plan_rollback(point, record(promoted=True), GREEN).steps] == list(UNDO[point])


def test_a_failure_point_given_as_text_is_the_same_plan() -> None:
    assert plan_rollback("dbt_deployment", record(), GREEN) == plan_rollback(
        FailurePoint.DBT_DEPLOYMENT, record(), GREEN
    )
    with pytest.raises(ValueError):
        plan_rollback("staging", record(), GREEN)


def test_building_a_plan_reads_the_record_and_changes_nothing() -> None:
    before = record(promoted=True)
    kept = json.dumps(before)
    plan_rollback(FailurePoint.PRODUCTION_PROMOTION, before, GREEN)
    assert json.dumps(before) == kept
    with pytest.raises(AttributeError):  # frozen: a plan is looked at, not edited
        plan_rollback(FailurePoint.VALIDATION, before, GREEN).steps = ()  # type: ignore[misc]


def test_the_plan_as_the_record_keeps_it() -> None:
    plan = plan_rollback(FailurePoint.INTEGRATION_VALIDATION, record(), GREEN)
    stored = json.loads(json.dumps(plan.as_dict()))
    assert stored == {
        "failure_point": "integration_validation",
        "steps": [
            {"undo": "dbt", "target": "analytics__green", "action": DROP_SLOT.action, "outcome": DROP_SLOT.outcome},
            {"undo": "sqlmesh", "target": GREEN, "action": KEEP_SQLMESH.action, "outcome": KEEP_SQLMESH.outcome},
        ],
        "checks": [PROD_CHECKSUMS],
    }


def test_a_record_without_details_plans_no_slot_and_no_swap() -> None:
    """Refused later by deployments/saved.py before anything runs; building the plan must not fail first."""
    plan = plan_rollback(FailurePoint.PRODUCTION_PROMOTION, {"id": "d1", "details": "not a dict"}, GREEN)
    assert plan.steps == () and not plan.restores_prod
