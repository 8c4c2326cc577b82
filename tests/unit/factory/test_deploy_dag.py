"""The deploy and rollback DAGs as Airflow sees them, and how a run's failure is classified."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.deployments.failure_points import failure_point
from airflow_provider_dualengine.deployments.rollback import UNDO as ROLLBACK_PLAN
from tests.conftest import DAGS_FOLDER


@pytest.fixture(scope="module")
def dag(example_project: Path):
    from airflow_provider_dualengine import ProjectConfig, build_deploy_dag

    return build_deploy_dag(ProjectConfig(example_project, environment="production"))


def test_the_seed_stages_are_task_groups_in_order(dag) -> None:
    assert dag.dag_id == "dualengine_shop_production_deploy" and dag.max_active_runs == 1
    groups = dag.task_group.children
    assert {"prepare", "validation", "staging_deployment", "integration_validation", "promotion", "conclude"} <= set(
        groups
    )
    assert {t.task_id.split(".")[1] for t in dag.tasks if t.task_id.startswith("validation.")} == {
        "sqlmesh_lint",
        "sqlmesh_unit_tests",
        "sqlmesh_cost_estimate",
        "dbt_manifest_and_docs",
        "contracts",
        "execution_plan",
    }
    assert dag.get_task("promotion.promote").upstream_task_ids == {"integration_validation.compare_with_prod"}
    conclude = dag.get_task("conclude")
    assert conclude.trigger_rule == "all_done" and conclude.upstream_task_ids == {"promotion.promote"}
    assert dag.get_task("staging_deployment.stage_1_sqlmesh.sqlmesh.run_stage").upstream_task_ids == {
        "validation.sqlmesh_lint",
        "validation.sqlmesh_unit_tests",
        "validation.sqlmesh_cost_estimate",
        "validation.dbt_manifest_and_docs",
        "validation.contracts",
        "validation.execution_plan",
    }


def test_staging_builds_green_for_both_engines(dag) -> None:
    plan = dag.get_task("staging_deployment.stage_4_sqlmesh_reporting.sqlmesh.run_stage")
    assert plan.environment == "prod_green"
    assert (
        plan.env["DUALENGINE_DBT_SCHEMA"] == "{{ ti.xcom_pull(task_ids='prepare', key='dbt_slot') }}"
    )  # SQLMesh reads dbt's slot
    # one dbt build per stage into the slot decided at run time (tests inline; a model's failure fails it)
    dbt_build = dag.get_task("staging_deployment.stage_3_dbt.dbt.build_stage")
    assert dbt_build.schema == "{{ ti.xcom_pull(task_ids='prepare', key='dbt_slot') }}"
    assert "schema" in dbt_build.template_fields
    assert dbt_build.dbt_vars == {"sqlmesh_schema_suffix": "__prod_green"}  # dbt reads the green SQLMesh views
    assert dbt_build.models == ["customer_order_summary", "customer_value"] and dbt_build.fail_on_model_error
    assert not [t for t in dag.task_ids if t.startswith("staging_deployment.stage_3_dbt.dbt.customer")]
    check = dag.get_task("staging_deployment.stage_1_sqlmesh.contract__staging__customer_enhanced")
    assert check.schema == "staging__prod_green"
    assert not [t for t in dag.tasks if t.task_id == "source_data"]  # a deployment does not wait for data


def test_every_warehouse_task_queues_in_the_writer_pool(dag) -> None:
    for task_id in (
        "prepare",
        "validation.sqlmesh_lint",
        "validation.sqlmesh_cost_estimate",
        "integration_validation.compare_with_prod",
        "promotion.promote",
        "conclude",
    ):
        assert dag.get_task(task_id).pool == "dualengine_warehouse", task_id


def test_every_writer_task_after_prepare_renews_the_deployment_lease(dag, example_project: Path) -> None:
    """prepare takes the lease, conclude releases it; every task in the writer pool in
    between renews it as it starts (a live deployment never looks abandoned)."""
    from datetime import timedelta

    from airflow_provider_dualengine import ProjectConfig, build_deploy_dag
    from airflow_provider_dualengine.operators.deployment import RenewDeploymentLease

    def renewals(task) -> list:
        callbacks = task.on_execute_callback or []
        return [
            c
            for c in (callbacks if isinstance(callbacks, list) else [callbacks])
            if isinstance(c, RenewDeploymentLease)
        ]

    prepare = dag.get_task("prepare")
    assert prepare.lease_ttl_s == 7200 and renewals(prepare) == []
    renewing = {t.task_id for t in dag.tasks if renewals(t)}
    in_pool = {t.task_id for t in dag.tasks if t.pool == "dualengine_warehouse"} - {"prepare"}
    assert (
        renewing == in_pool
        and {"promotion.promote", "conclude", "staging_deployment.stage_1_sqlmesh.sqlmesh.run_stage"} <= renewing
    )
    [renew] = renewals(dag.get_task("promotion.promote"))
    assert (renew.environment, renew.lease_ttl_s) == ("production", 7200)

    short = build_deploy_dag(ProjectConfig(example_project, environment="production"), lease_ttl=timedelta(minutes=5))
    assert short.get_task("prepare").lease_ttl_s == 300
    assert renewals(short.get_task("conclude"))[0].lease_ttl_s == 300


def test_dags_file_holds_deploy_and_rollback_and_loads_no_engine(example_project: Path) -> None:
    code = (
        "import sys, runpy; ns = runpy.run_path(sys.argv[1]);"
        "print(ns['deploy'].dag_id, ns['rollback'].dag_id, [t.task_id for t in ns['rollback'].tasks], 'sqlmesh' in sys.modules, 'dbt.cli.main' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS_FOLDER / "dualengine_deploy.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")[-2]
    assert out == "dualengine_shop_production_deploy dualengine_shop_production_rollback ['rollback'] False False"


def test_unknown_environment_is_a_readable_import_error(example_project: Path) -> None:
    from airflow_provider_dualengine import ProjectConfig, build_deploy_dag

    with pytest.raises(DualEngineConfigError) as err:
        build_deploy_dag(ProjectConfig(example_project, environment="staging"))
    assert (
        "dual_engine_environments.yml" in str(err.value)
        and "unknown environment 'staging'" in str(err.value)
        and "production" in str(err.value)
    )


def test_a_dbt_view_over_sqlmesh_cannot_be_deployed_blue_green(project_copy: Path) -> None:
    from airflow_provider_dualengine import ProjectConfig, build_deploy_dag
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    dbt_project = project_copy / "dbt" / "dbt_project.yml"
    dbt_project.write_text(
        dbt_project.read_text().replace(
            "    marts:\n      +materialized: table", "    marts:\n      +materialized: view"
        )
    )
    compile_project(load_project(project_copy))
    with pytest.raises(DualEngineConfigError) as err:
        build_deploy_dag(ProjectConfig(project_copy, environment="production"))
    message = str(err.value)
    assert (
        "dbt model customer_value" in message
        and "intermediate.customer_lifetime" in message
        and "materialize it as a table" in message
    )
    assert "dbt model customer_order_summary" not in message  # reads dbt models only


@pytest.mark.parametrize(
    ("failed", "expected"),
    [
        ({"validation.sqlmesh_unit_tests": "failed"}, "validation"),
        ({"staging_deployment.stage_1_sqlmesh.sqlmesh.run_stage": "failed"}, "sqlmesh_deployment"),
        ({"staging_deployment.stage_3_dbt.dbt.build_stage": "failed"}, "dbt_deployment"),
        (
            {"staging_deployment.stage_1_sqlmesh.contract__staging__customer_enhanced": "failed"},
            "integration_validation",
        ),
        ({"integration_validation.compare_with_prod": "failed"}, "integration_validation"),
        ({"promotion.promote": "failed"}, "production_promotion"),
        # two failures: the earlier point in the pipeline decides
        (
            {
                "staging_deployment.stage_3_dbt.dbt.customer_value.run": "failed",
                "staging_deployment.stage_4_sqlmesh_reporting.sqlmesh.run_stage": "failed",
            },
            "sqlmesh_deployment",
        ),
    ],
)
def test_failure_points_follow_the_pipeline(failed: dict[str, str], expected: str) -> None:
    states = {"prepare": "success", "promotion.promote": "upstream_failed", "conclude": "running", **failed}
    point, task = failure_point(states)
    assert point == expected and states[task] == "failed"


def test_no_failure_no_failure_point() -> None:
    assert failure_point(
        {"prepare": "success", "promotion.promote": "success", "staging_deployment.x.dbt.y.run": "upstream_failed"}
    ) == (None, None)


def test_rollback_plan_is_the_seed_table() -> None:
    assert ROLLBACK_PLAN["sqlmesh_deployment"] == ("sqlmesh",)
    assert ROLLBACK_PLAN["dbt_deployment"] == ("dbt",)  # SQLMesh stays in its new (green) state
    assert set(ROLLBACK_PLAN["integration_validation"]) == {"dbt", "sqlmesh"}
    assert ROLLBACK_PLAN["production_promotion"] == ("prod",)
