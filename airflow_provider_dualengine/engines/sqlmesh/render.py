"""A stage's SQLMesh models as Airflow tasks."""

from __future__ import annotations

from airflow.sdk import TaskGroup

from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.graph.model import ModelNode
from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator


def render_sqlmesh_models(models: tuple[ModelNode, ...], ctx: RenderContext) -> TaskGroup:
    """One plan+apply of the stage's models into the DAG's environment."""
    with TaskGroup(group_id="sqlmesh", tooltip=f"SQLMesh: {', '.join(m.name for m in models)}") as group:
        SQLMeshPlanOperator(
            task_id="plan_apply",
            project_path=str(ctx.project.sqlmesh_path),
            environment=ctx.environment.sqlmesh_environment,
            gateway=ctx.environment.sqlmesh_gateway,
            select_models=[m.name for m in models],
            warehouse_conn_id=ctx.conn_id,
            doc_md="Models: " + ", ".join(f"`{m.name}` ({m.kind})" for m in models),
            **ctx.pool_args(),
        )
    return group
