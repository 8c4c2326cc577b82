"""build_deploy_dag(): the coordinated blue-green deployment pipeline for both engines as one Airflow DAG.

    prepare -> validation -> staging_deployment -> integration_validation -> promotion -> conclude

`staging_deployment` is the project's own stage graph rendered into green: SQLMesh plans
into `<env>_green`, one `dbt build` per stage builds into the idle slot and reads the green
SQLMesh views, SQLMesh models reading dbt read that slot, contracts are checked on green. Prod
changes only in `promotion.promote`, for both engines in one transaction. `conclude`
always runs: it applies the rollback defined for the failure point and closes the record.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, TaskGroup

from airflow_provider_dualengine.config.environments import sqlmesh_view_suffix
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment, load_project
from airflow_provider_dualengine.contracts.producers import load_structurally_valid_contracts
from airflow_provider_dualengine.deployments.green_relations import green_environment
from airflow_provider_dualengine.engines.sqlmesh.names import DBT_SCHEMA_ENV
from airflow_provider_dualengine.factory.config import (
    ProjectConfig,
    ProjectDir,
    SQLMeshAction,
    reject_moved_arguments,
)
from airflow_provider_dualengine.factory.dag_defaults import new_dag, readable_import_errors
from airflow_provider_dualengine.factory.model_assets import model_asset_uri, warehouse_at_parse
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.factory.stages import render_stages
from airflow_provider_dualengine.graph import UnifiedGraph, build_graph
from airflow_provider_dualengine.graph.build import dbt_views_on_sqlmesh, load_catalogs
from airflow_provider_dualengine.graph.validation import DEPLOY_VIEW_REASON
from airflow_provider_dualengine.operators.deployment import (
    LEASE_TTL_S,
    START_TASK_ID,
    DeploymentConcludeOperator,
    DeploymentStartOperator,
    DualEnginePromoteOperator,
    DualEngineRollbackOperator,
    IntegrationValidationOperator,
    RenewDeploymentLease,
)

# The idle dbt slot is chosen at run time by `prepare`; tasks receive it through templating.
SLOT_TEMPLATE = "{{ ti.xcom_pull(task_ids='" + START_TASK_ID + "', key='dbt_slot') }}"


def build_deploy_dag(
    project: ProjectConfig | ProjectDir | None = None,
    *,
    dag_id: str | None = None,
    schedule: Any = None,
    start_date: Any = None,
    thresholds: dict[str, float] | None = None,
    require_dbt_docs: bool = True,
    lease_ttl: timedelta = timedelta(seconds=LEASE_TTL_S),
    **dag_kwargs: Any,
) -> DAG:
    """Build the blue-green deploy DAG of a project for one environment.

    :param project: the project folder, or a `ProjectConfig` (its environment is the one deployed).
    :param thresholds: integration-validation limits (deployments.integration.Thresholds):
        row_count_tolerance, mean_tolerance, null_share_tolerance, duration_factor, duration_grace_s.
    :param require_dbt_docs: fail validation when a dbt model has no description.
    :param lease_ttl: how long the environment's deployment lease lives without renewal
        (each task renews it as it starts): longer than the longest single task. One
        deployment (or rollback) per environment at a time, whatever the DAG.
    Raises DualEngineConfigError (file, key, problem, fix) on a broken project.
    """
    reject_moved_arguments("build_deploy_dag", dag_kwargs)
    source = ProjectConfig.of(project)
    with readable_import_errors():
        loaded = load_project(source.project_dir)
        env = loaded.environment(source.environment)
        catalogs, issues = load_catalogs(loaded)
        graph = build_graph(loaded, catalogs if not issues else None)
        contracts = load_structurally_valid_contracts(loaded, graph)
        views = dbt_views_on_sqlmesh(catalogs, loaded.files["settings"], DEPLOY_VIEW_REASON)
        if views:
            raise DualEngineConfigError(views)
        warehouse = warehouse_at_parse(loaded)
    green = green_environment(env.sqlmesh_environment)
    ctx = RenderContext(
        project=loaded,
        environment=replace(
            env, sqlmesh_environment=green, sqlmesh_view_suffix=sqlmesh_view_suffix(green), dbt_schema=SLOT_TEMPLATE
        ),
        sqlmesh_action=SQLMeshAction.PLAN,
        # A deployment reports per engine and stage (model Assets come from the regular DAG):
        # one SQLMesh plan and one `dbt build` (tests inline) into the slot decided at run time.
        sqlmesh_model_tasks=False,
        dbt_model_tasks=False,
        waits_for_deployments=False,  # it is the deployment
    )
    # DuckDB: every task touching the warehouse queues in the one-slot writer pool.
    site = {"project_dir": str(loaded.root), "environment": env.name, **ctx.pool_args()}
    sqlmesh = {
        "project_path": str(loaded.sqlmesh_path),
        "gateway": env.sqlmesh_gateway,
        "conn_id": loaded.settings.warehouse.conn_id,
        "env": {DBT_SCHEMA_ENV: SLOT_TEMPLATE},
        **ctx.pool_args(),
    }
    dag = new_dag(
        dag_id or f"dualengine_{loaded.settings.name}_{env.name}_deploy",
        schedule=schedule,
        start_date=start_date,
        tags=["deploy", env.name],
        doc_md=f"Blue-green deployment of `{loaded.root}` to **{env.name}**: SQLMesh into `{green}`, dbt into the idle slot of `{env.dbt_schema}`, validated, then both promoted in one transaction.",
        **dag_kwargs,
    )
    with dag:
        prepare = DeploymentStartOperator(
            task_id=START_TASK_ID,
            lease_ttl_s=lease_ttl.total_seconds(),
            **site,
            doc_md="Open the deployment record, choose the idle dbt slot, save prod (layer, SQLMesh state, checksums).",
        )
        with TaskGroup(
            "validation", tooltip="Nothing is built yet: lint, unit tests, cost estimate, dbt docs, contracts"
        ) as validation:
            _validation_tasks(loaded, env.name, green, sqlmesh, require_dbt_docs)
        with TaskGroup("staging_deployment", tooltip=f"Build green: SQLMesh '{green}', dbt idle slot") as staging:
            render_stages(graph, ctx, False, contracts, static_validation=False, wait_for_inputs=False)
        with TaskGroup("integration_validation", tooltip="Green against prod") as integration:
            IntegrationValidationOperator(task_id="compare_with_prod", thresholds=thresholds, **site)
        with TaskGroup("promotion", tooltip="Both engines switch in one transaction") as promotion:
            # Consumers scheduled on the prod tables' Assets hear of the deployment.
            DualEnginePromoteOperator(task_id="promote", outlets=prod_assets(loaded, graph, env, warehouse), **site)
        conclude = DeploymentConcludeOperator(
            task_id="conclude",
            trigger_rule="all_done",
            **site,
            doc_md="Roll back as the failure point requires, verify prod by checksums, close the record.",
        )
        prepare >> validation >> staging >> integration >> promotion >> conclude
    _renew_lease_on_start(dag, prepare, RenewDeploymentLease(str(loaded.root), env.name, lease_ttl.total_seconds()))
    return dag


def _renew_lease_on_start(dag: DAG, prepare: Any, renew: Any) -> None:
    """Every task after `prepare` renews the lease as it starts. On DuckDB only the tasks in
    the writer pool do: another process may not open the file while a pool task holds it."""
    pool = prepare.pool if getattr(prepare, "pool", None) not in (None, "default_pool") else None
    for task in dag.tasks:
        if task is prepare or (pool and task.pool != pool):
            continue
        task.on_execute_callback = [*_callbacks(task.on_execute_callback), renew]


def _callbacks(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else ([value] if value else [])


def _validation_tasks(
    project: Any, environment: str, green: str, sqlmesh: dict[str, Any], require_dbt_docs: bool
) -> None:
    from airflow_provider_dualengine.operators.contract_validation import ContractValidationOperator
    from airflow_provider_dualengine.operators.execution_plan import ExecutionPlanOperator
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
    DbtProjectCheckOperator(
        task_id="dbt_manifest_and_docs", project_dir=str(project.root), require_docs=require_dbt_docs
    )
    ContractValidationOperator(task_id="contracts", project_dir=str(project.root))
    ExecutionPlanOperator(
        task_id="execution_plan",
        project_dir=str(project.root),
        environment=environment,
        # It reads the warehouse: on DuckDB, between the writers of the writer pool.
        **{k: v for k, v in sqlmesh.items() if k == "pool"},
        doc_md="Order across both engines, allocation per step, estimated duration and cost from the run history (`dualengine plan`); informs, never fails on missing history.",
    )


def prod_assets(project: Project, graph: UnifiedGraph, env: ResolvedEnvironment, warehouse: Any) -> list[Asset]:
    """The Assets of every model's table in the deployed environment (what the regular DAG
    of that environment emits), declared by the tasks that change what those tables show:
    promotion and rollback."""
    return [
        Asset(model_asset_uri(warehouse, project, engine, name, graph.models_graph.relation_of((engine, name)), env))
        for engine, name in sorted(graph.placement())
    ]


def build_rollback_dag(
    project: ProjectConfig | ProjectDir | None = None,
    *,
    dag_id: str | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A manually triggered DAG returning both engines to the state before the last successful deployment."""
    reject_moved_arguments("build_rollback_dag", dag_kwargs)
    source = ProjectConfig.of(project)
    with readable_import_errors():
        loaded = load_project(source.project_dir)
        env = loaded.environment(source.environment)
        graph = build_graph(loaded)
        warehouse = warehouse_at_parse(loaded)
    dag = new_dag(
        dag_id or f"dualengine_{loaded.settings.name}_{env.name}_rollback",
        schedule=None,
        tags=["rollback", env.name],
        doc_md=f"Roll **{env.name}** back to before its last successful deployment (both engines, one transaction, verified by checksums).",
        **dag_kwargs,
    )
    with dag:
        pool = loaded.settings.warehouse.writer_pool
        DualEngineRollbackOperator(
            task_id="rollback",
            project_dir=str(loaded.root),
            environment=env.name,
            outlets=prod_assets(loaded, graph, env, warehouse),
            **({"pool": pool} if pool else {}),
        )
    return dag
