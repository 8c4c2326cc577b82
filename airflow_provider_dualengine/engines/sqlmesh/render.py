"""A stage's SQLMesh models as Airflow tasks: one engine execution, one task per model.

    [run_stage] -> [staging.stg_orders] -> [staging.customer_enhanced]
                -> [raw.raw_customers]  ---^

`run_stage` plans (or runs) the stage's models once; each model task reports that
model's outcome and emits its Asset, and model edges follow SQLMesh's own dependencies.
"""

from __future__ import annotations

from airflow.sdk import TaskGroup

from airflow_provider_dualengine.engines.sqlmesh.names import task_id_for
from airflow_provider_dualengine.factory.render_context import RenderContext, RenderedModels
from airflow_provider_dualengine.graph.model import ModelNode
from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator, SQLMeshRunOperator
from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator

EXECUTOR_TASK_ID = "run_stage"


def render_sqlmesh_models(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    env = ctx.environment
    executor_class = SQLMeshRunOperator if ctx.sqlmesh_action == "run" else SQLMeshPlanOperator
    with TaskGroup(group_id="sqlmesh", tooltip=f"SQLMesh: {len(models)} models, one engine run") as group:
        executor = executor_class(
            task_id=EXECUTOR_TASK_ID,
            project_path=str(ctx.project.sqlmesh_path),
            environment=env.sqlmesh_environment,
            gateway=env.sqlmesh_gateway,
            select_models=[m.name for m in models],
            conn_id=ctx.conn_id,
            # with model tasks, each model's task reports its own failure
            fail_on_model_error=not ctx.sqlmesh_model_tasks,
            doc_md=f"One SQLMesh {ctx.sqlmesh_action} of {len(models)} models into `{env.sqlmesh_environment}`.",
            **ctx.pool_args(),
        )
        entry = {m.name: executor for m in models}
        if not ctx.sqlmesh_model_tasks:
            return RenderedModels(group, entry, dict(entry))
        tasks = {}
        for model in models:
            tasks[model.name] = SQLMeshModelOperator(
                task_id=task_id_for(model.name),
                task_display_name=model.name,
                model=model.name,
                executor_task_id=executor.task_id,
                environment=env.sqlmesh_environment,
                view_schema_suffix=env.sqlmesh_view_suffix,
                conn_id=ctx.conn_id,
                asset_alias=ctx.asset_alias("sqlmesh", model.name),
                doc_md=f"SQLMesh model `{model.name}` ({model.kind}); outcome of `{EXECUTOR_TASK_ID}`.",
            )
        for model in models:
            upstream = [tasks[d] for d in model.depends_on if d in tasks]
            for task in upstream or [executor]:
                task >> tasks[model.name]
    return RenderedModels(group, entry, tasks)
