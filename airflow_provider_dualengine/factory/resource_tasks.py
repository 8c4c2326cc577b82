"""Each engine's part of a stage under its allocation (config/resources.yml): the engine
pool on the tasks that run the engine, the window priority as their weight rule, and an
execution-window gate before them when a window can hold that engine's work."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, TaskGroup

from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.graph import Engine
from airflow_provider_dualengine.operators.window_gate import ExecutionWindowGateOperator
from airflow_provider_dualengine.resources.priority import STRATEGIES


def runs_engine(task: BaseOperator) -> bool:
    """Tasks that query the warehouse through an engine: SQLMesh stage executors, our dbt
    builds and Cosmos' dbt tasks; not the per-model reporting tasks (an XCom read)."""
    from airflow_provider_dualengine.operators.dbt import DbtBuildOperator
    from airflow_provider_dualengine.operators.sqlmesh import _StageExecutor

    if isinstance(task, (_StageExecutor, DbtBuildOperator)):
        return True
    return type(task).__module__.startswith("cosmos.")


def place_engine_tasks(ctx: RenderContext, engine: Engine, group: Any) -> Any:
    """Give the engine tasks of `group` their engine pool (not on DuckDB: one writer
    pool there) and the window-following weight rule, and put a gate (`<group>.window_gate`)
    before the group's first tasks; the gate is returned (None without one) so that what
    the group's models wait for across stages is waited for by the gate too."""
    allocation = ctx.engine_allocation(engine.value)
    if allocation is None:
        return None
    tasks = [t for t in _tasks_of(group) if runs_engine(t)]
    for task in tasks:
        if hasattr(task, "resources_from") and not task.resources_from:  # threads, session settings at run time
            task.resources_from = {"project_dir": str(ctx.project.root), "environment": ctx.environment.name}
        if allocation.pool and task.pool in (None, "default_pool"):
            task.pool = allocation.pool
        if ctx.resources.execution_schedule is not None:
            task.weight_rule = STRATEGIES[engine.value]()
    if ctx.window_can_hold(engine.value) and isinstance(group, TaskGroup):
        roots = list(group.roots)
        gate = ExecutionWindowGateOperator(
            task_id="window_gate",
            task_group=group,
            project_dir=str(ctx.project.root),
            environment=ctx.environment.name,
            engine=engine.value,
            doc_md=f"Holds {engine.value}'s work of scheduled runs while the execution window makes it maintenance_only (config/resources.yml).",
        )
        gate >> roots
        return gate
    return None


def _tasks_of(group: Any) -> list[BaseOperator]:
    if isinstance(group, BaseOperator):
        return [group]
    children = getattr(group, "children", {})
    found: list[BaseOperator] = []
    for child in children.values():
        found.extend(_tasks_of(child))
    return found
