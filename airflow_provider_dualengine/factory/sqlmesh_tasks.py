"""A stage's SQLMesh models as Airflow tasks: one engine execution, one task per model.

    [run_stage] -> [staging.stg_orders] -> [staging.customer_enhanced]
                -> [raw.raw_customers]  ---^

`run_stage` plans (or runs) the stage's models once; each model task reports that
model's outcome and emits its Asset, and model edges follow SQLMesh's own dependencies.
With model-level scheduling of cron runs, each independent branch of the stage gets its
own `run__<model>` execution (plans stay one per stage: two plans applied to one
environment at once conflict in SQLMesh's state).
"""

from __future__ import annotations

from airflow.sdk import TaskGroup

from airflow_provider_dualengine.engines.sqlmesh.names import DBT_SCHEMA_ENV, task_id_for
from airflow_provider_dualengine.factory.config import SQLMeshAction
from airflow_provider_dualengine.factory.render_context import RenderContext, RenderedModels
from airflow_provider_dualengine.graph import Engine
from airflow_provider_dualengine.graph.model import ModelNode
from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator, SQLMeshRunOperator
from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator

EXECUTOR_TASK_ID = "run_stage"


def independent_branches(models: tuple[ModelNode, ...]) -> list[tuple[ModelNode, ...]]:
    """The stage's models split into groups that share no dependency inside the stage,
    in the stage's order (each group's order kept)."""
    names = {m.name for m in models}
    parent = {m.name: m.name for m in models}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for model in models:
        for dep in model.depends_on:
            if dep in names:
                parent[root(dep)] = root(model.name)
    branches: dict[str, list[ModelNode]] = {}
    for model in models:
        branches.setdefault(root(model.name), []).append(model)
    return [tuple(b) for b in branches.values()]


def render_sqlmesh_models(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    """One engine execution per stage, or, with `ctx.split_sqlmesh_branches`, one per
    independent branch so that a slow branch does not hold back readers of another."""
    branches = independent_branches(models) if ctx.split_sqlmesh_branches else [models]
    label = f"SQLMesh · {len(models)} model{'s' if len(models) != 1 else ''}"  # Airflow 3 draws no operator colours
    with TaskGroup(
        group_id="sqlmesh",
        group_display_name=label,
        tooltip=f"SQLMesh {ctx.sqlmesh_action.value} into '{ctx.environment.sqlmesh_environment}': {len(models)} models, {len(branches)} engine run(s)",
    ) as group:
        entry = {}
        for branch in branches:
            task_id = EXECUTOR_TASK_ID if len(branches) == 1 else f"run__{task_id_for(branch[0].name)}"
            executor = _executor(task_id, branch, ctx)
            entry.update({m.name: executor for m in branch})
        if not ctx.sqlmesh_model_tasks:
            ctx.declare_model_outlets(Engine.SQLMESH, models, entry)
            return RenderedModels(group, entry, dict(entry))
        tasks = {m.name: _model_task(m, entry[m.name], ctx) for m in models}
        for model in models:
            upstream = [tasks[d] for d in model.depends_on if d in tasks]
            for task in upstream or [entry[model.name]]:
                task >> tasks[model.name]
    return RenderedModels(group, entry, tasks)


def _executor(task_id: str, models: tuple[ModelNode, ...], ctx: RenderContext):
    env = ctx.environment
    executor_class = SQLMeshRunOperator if ctx.sqlmesh_action is SQLMeshAction.RUN else SQLMeshPlanOperator
    return executor_class(
        task_id=task_id,
        project_path=str(ctx.project.sqlmesh_path),
        environment=env.sqlmesh_environment,
        gateway=env.sqlmesh_gateway,
        select_models=[m.name for m in models],
        conn_id=ctx.conn_id,
        env={DBT_SCHEMA_ENV: env.dbt_schema},
        # with model tasks, each model's task reports its own failure
        fail_on_model_error=not ctx.sqlmesh_model_tasks,
        doc_md=f"One SQLMesh {ctx.sqlmesh_action.value} of {len(models)} models into `{env.sqlmesh_environment}`: {', '.join(m.name for m in models)}.",
        **{
            **ctx.pool_args(),
            **ctx.deployment_gate_args(),
            **ctx.history_args(Engine.SQLMESH, models),
            **ctx.sqlmesh_operator_args,
        },
    )


def _model_task(model: ModelNode, executor, ctx: RenderContext) -> SQLMeshModelOperator:
    env = ctx.environment
    return SQLMeshModelOperator(
        task_id=task_id_for(model.name),
        task_display_name=model.name,
        model=model.name,
        executor_task_id=executor.task_id,
        environment=env.sqlmesh_environment,
        view_schema_suffix=env.sqlmesh_view_suffix,
        conn_id=ctx.conn_id,
        asset_uri=ctx.asset_uri("sqlmesh", model.name),
        asset_alias=ctx.asset_alias("sqlmesh", model.name),
        lineage_inputs=list(model.depends_on),
        lineage_external_inputs=[_in_environment(table, ctx) for table in model.reads_tables],
        lineage_files=ctx.input_files(model),
        inlets=ctx.model_inlets(model),
        columns=dict(model.columns),
        doc_md=f"SQLMesh model `{model.name}` ({model.kind}); outcome of `{executor.task_id}`.",
    )


def _in_environment(table: str, ctx: RenderContext) -> str:
    """A dbt table read by a SQLMesh model, in this environment's dbt schema (analytics ->
    analytics_dev); other external tables as named."""
    schema, _, name = table.rpartition(".")
    return f"{ctx.environment.dbt_schema}.{name}" if schema == ctx.project.settings.dbt.schema_ else table
