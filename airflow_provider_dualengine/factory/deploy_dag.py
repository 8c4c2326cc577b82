"""build_deploy_dag(): the coordinated blue-green deployment pipeline for both engines as one Airflow DAG.

    prepare -> validation -> staging_deployment -> integration_validation -> promotion -> conclude

`staging_deployment` is the project's own stage graph rendered into green: SQLMesh plans
into `<env>_green`, dbt (Cosmos) builds into the idle slot and reads the green SQLMesh
views, SQLMesh models reading dbt read that slot, contracts are checked on green. Prod
changes only in `promotion.promote`, for both engines in one transaction. `conclude`
always runs: it applies the rollback defined for the failure point and closes the record.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, TaskGroup

from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.deployments.plan import green_environment
from airflow_provider_dualengine.engines.sqlmesh.names import DBT_SCHEMA_ENV
from airflow_provider_dualengine.factory.dag_builder import _load_contracts, _render
from airflow_provider_dualengine.factory.model_assets import model_asset_uri, warehouse_at_parse
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.graph import build_graph
from airflow_provider_dualengine.graph.build import dbt_views_on_sqlmesh, load_catalogs
from airflow_provider_dualengine.graph.validation import DEPLOY_VIEW_REASON
from airflow_provider_dualengine.operators.deployment import (
    START_TASK_ID,
    DeploymentConcludeOperator,
    DeploymentStartOperator,
    DualEnginePromoteOperator,
    DualEngineRollbackOperator,
    IntegrationValidationOperator,
)

# The idle dbt slot is chosen at run time by `prepare`; tasks receive it through templating.
SLOT_TEMPLATE = "{{ ti.xcom_pull(task_ids='" + START_TASK_ID + "', key='dbt_slot') }}"


def build_deploy_dag(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    environment: str | None = None,
    dag_id: str | None = None,
    schedule: Any = None,
    start_date: Any = None,
    thresholds: dict[str, float] | None = None,
    require_dbt_docs: bool = True,
    **dag_kwargs: Any,
) -> DAG:
    """Build the blue-green deploy DAG of a project for one environment.

    :param environment: a name from `dual_engine_environments.yml` (default: the project's).
    :param thresholds: integration-validation limits (deployments.integration.Thresholds):
        row_count_tolerance, mean_tolerance, null_share_tolerance, duration_factor, duration_grace_s.
    :param require_dbt_docs: fail validation when a dbt model has no description.
    Raises DualEngineConfigError (file, key, problem, fix) on a broken project.
    """
    try:
        project = load_project(project_dir)
        env = project.environment(environment)
        catalogs, issues = load_catalogs(project)
        graph = build_graph(project, catalogs if not issues else None)
        contracts = _load_contracts(project, graph)
        views = dbt_views_on_sqlmesh(catalogs, project.files["settings"], DEPLOY_VIEW_REASON)
        if views:
            raise DualEngineConfigError(views)
        warehouse = warehouse_at_parse(project)
    except DualEngineConfigError as exc:
        raise DualEngineConfigError(exc.issues) from None
    green = green_environment(env.sqlmesh_environment)
    ctx = RenderContext(
        project=project,
        environment=replace(env, sqlmesh_environment=green, sqlmesh_view_suffix=f"__{green}", dbt_schema=SLOT_TEMPLATE),
        sqlmesh_action="plan",
        sqlmesh_model_tasks=False,  # a deployment reports per stage; model Assets come from the regular DAG
        dbt_build_per_model=True,  # `dbt build` per model into the slot: tests inline, half the tasks
    )
    # DuckDB: every task touching the warehouse queues in the one-slot writer pool.
    site = {"project_dir": str(project.root), "environment": env.name, **ctx.pool_args()}
    sqlmesh = {
        "project_path": str(project.sqlmesh_path),
        "gateway": env.sqlmesh_gateway,
        "conn_id": project.settings.warehouse.conn_id,
        "env": {DBT_SCHEMA_ENV: SLOT_TEMPLATE},
        **ctx.pool_args(),
    }
    dag = DAG(
        dag_id=dag_id or f"dualengine_{project.settings.name}_{env.name}_deploy",
        schedule=schedule,
        start_date=start_date or pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,  # two deployments of one environment must never interleave
        tags=["dualengine", "deploy", env.name],
        doc_md=f"Blue-green deployment of `{project.root}` to **{env.name}**: SQLMesh into `{green}`, dbt into the idle slot of `{env.dbt_schema}`, validated, then both promoted in one transaction.",
        **dag_kwargs,
    )
    with dag:
        prepare = DeploymentStartOperator(
            task_id=START_TASK_ID,
            **site,
            doc_md="Open the deployment record, choose the idle dbt slot, save prod (layer, SQLMesh state, checksums).",
        )
        with TaskGroup(
            "validation", tooltip="Nothing is built yet: lint, unit tests, cost estimate, dbt docs, contracts"
        ) as validation:
            _validation_tasks(project, green, sqlmesh, require_dbt_docs)
        with TaskGroup("staging_deployment", tooltip=f"Build green: SQLMesh '{green}', dbt idle slot") as staging:
            _render(graph, ctx, False, contracts, static_validation=False, wait_for_inputs=False)
        with TaskGroup("integration_validation", tooltip="Green against prod") as integration:
            IntegrationValidationOperator(task_id="compare_with_prod", thresholds=thresholds, **site)
        with TaskGroup("promotion", tooltip="Both engines switch in one transaction") as promotion:
            # Consumers scheduled on the prod tables' Assets hear of the deployment.
            DualEnginePromoteOperator(task_id="promote", outlets=prod_assets(project, graph, env, warehouse), **site)
        conclude = DeploymentConcludeOperator(
            task_id="conclude",
            trigger_rule="all_done",
            **site,
            doc_md="Roll back as the failure point requires, verify prod by checksums, close the record.",
        )
        prepare >> validation >> staging >> integration >> promotion >> conclude
    return dag


def _validation_tasks(project: Any, green: str, sqlmesh: dict[str, Any], require_dbt_docs: bool) -> None:
    from airflow_provider_dualengine.operators.contract_validation import ContractValidationOperator
    from airflow_provider_dualengine.operators.project_checks import DbtProjectCheckOperator
    from airflow_provider_dualengine.operators.sqlmesh import (
        SQLMeshLintOperator,
        SQLMeshPlanOperator,
        SQLMeshTestOperator,
    )

    SQLMeshLintOperator(task_id="sqlmesh_lint", **sqlmesh)
    SQLMeshTestOperator(task_id="sqlmesh_unit_tests", **sqlmesh)
    SQLMeshPlanOperator(
        task_id="sqlmesh_cost_estimate",
        environment=green,
        apply=False,
        skip_tests=True,
        **sqlmesh,
        doc_md="What a plan into green would create and backfill (models, intervals); applies nothing.",
    )
    DbtProjectCheckOperator(task_id="dbt_parse_and_docs", project_dir=str(project.root), require_docs=require_dbt_docs)
    ContractValidationOperator(task_id="contracts", project_dir=str(project.root))


def prod_assets(project: Any, graph: Any, env: Any, warehouse: Any) -> list[Asset]:
    """The Assets of every model's table in the deployed environment (what the regular DAG
    of that environment emits), declared by the tasks that change what those tables show:
    promotion and rollback."""
    nodes = graph.models_graph.nodes
    return [
        Asset(model_asset_uri(warehouse, project, engine, name, nodes.get((engine, name), {}).get("relation"), env))
        for engine, name in sorted(graph.placement())
    ]


def build_rollback_dag(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    environment: str | None = None,
    dag_id: str | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A manually triggered DAG returning both engines to the state before the last successful deployment."""
    try:
        project = load_project(project_dir)
        env = project.environment(environment)
        graph = build_graph(project)
        warehouse = warehouse_at_parse(project)
    except DualEngineConfigError as exc:
        raise DualEngineConfigError(exc.issues) from None
    dag = DAG(
        dag_id=dag_id or f"dualengine_{project.settings.name}_{env.name}_rollback",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["dualengine", "rollback", env.name],
        doc_md=f"Roll **{env.name}** back to before its last successful deployment (both engines, one transaction, verified by checksums).",
        **dag_kwargs,
    )
    with dag:
        pool = project.settings.warehouse.writer_pool
        DualEngineRollbackOperator(
            task_id="rollback",
            project_dir=str(project.root),
            environment=env.name,
            outlets=prod_assets(project, graph, env, warehouse),
            **({"pool": pool} if pool else {}),
        )
    return dag
