"""Which task of the deploy DAG stands for which failure point, and which failure decides."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.deployments.failure_points import (
    FailurePoint,
    failure_point,
    failure_point_of,
    task_failure_points,
)


@pytest.mark.parametrize(
    ("task", "point"),
    [
        ("prepare", None),
        ("conclude", None),
        ("validation.sqlmesh_lint", FailurePoint.VALIDATION),
        ("validation.contracts", FailurePoint.VALIDATION),
        ("staging_deployment.stage_1_sqlmesh.sqlmesh.run_stage", FailurePoint.SQLMESH_DEPLOYMENT),
        (
            "staging_deployment.stage_2_mixed.sqlmesh.run__intermediate__customer_lifetime",
            FailurePoint.SQLMESH_DEPLOYMENT,
        ),
        ("staging_deployment.stage_3_dbt.dbt.build_stage", FailurePoint.DBT_DEPLOYMENT),
        ("staging_deployment.stage_3_dbt.dbt.customer_value.run", FailurePoint.DBT_DEPLOYMENT),
        (
            "staging_deployment.stage_1_sqlmesh.contract__staging__customer_enhanced",
            FailurePoint.INTEGRATION_VALIDATION,
        ),
        ("integration_validation.compare_with_prod", FailurePoint.INTEGRATION_VALIDATION),
        ("promotion.promote", FailurePoint.PRODUCTION_PROMOTION),
        # a model named like the engine group is still just a task of its stage's SQLMesh side
        ("staging_deployment.stage_1_sqlmesh.dbt", FailurePoint.SQLMESH_DEPLOYMENT),
    ],
)
def test_each_task_stands_for_the_point_of_where_it_sits(task: str, point: FailurePoint | None) -> None:
    assert failure_point_of(task) == point


def test_the_mapping_holds_only_tasks_with_a_point() -> None:
    points = task_failure_points(["prepare", "validation.sqlmesh_lint", "promotion.promote", "conclude"])
    assert points == {
        "validation.sqlmesh_lint": FailurePoint.VALIDATION,
        "promotion.promote": FailurePoint.PRODUCTION_PROMOTION,
    }


def test_the_earliest_point_decides_whatever_the_task_order() -> None:
    states = {
        "prepare": "success",
        "staging_deployment.stage_4_sqlmesh_reporting.sqlmesh.run_stage": "failed",
        "staging_deployment.stage_3_dbt.dbt.build_stage": "failed",
        "promotion.promote": "upstream_failed",
        "conclude": "running",
    }
    assert failure_point(states) == (
        FailurePoint.SQLMESH_DEPLOYMENT,
        "staging_deployment.stage_4_sqlmesh_reporting.sqlmesh.run_stage",
    )


def test_upstream_failures_and_failed_tasks_without_a_point_decide_nothing() -> None:
    assert failure_point({"prepare": "failed", "promotion.promote": "upstream_failed"}) == (None, None)
