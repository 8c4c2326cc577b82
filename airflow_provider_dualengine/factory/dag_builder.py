"""build_dag(): the dependency_graph YAML -> an Airflow DAG of one TaskGroup per stage.

The factory speaks only to the unified graph; each engine's models become tasks in
`factory/sqlmesh_tasks.py` and `factory/dbt_tasks.py`. Nothing here loads a SQLMesh
Context or runs dbt, so parsing stays fast.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset

from airflow_provider_dualengine.config.engine_selection import load_engine_selection
from airflow_provider_dualengine.config.model_organization import load_model_organization
from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.config.resources import load_resources
from airflow_provider_dualengine.contracts.producers import load_structurally_valid_contracts
from airflow_provider_dualengine.factory.config import (
    ExecutionConfig,
    ProjectConfig,
    ProjectDir,
    RenderConfig,
    SQLMeshAction,
    reject_moved_arguments,
)
from airflow_provider_dualengine.factory.dag_defaults import new_dag, readable_import_errors
from airflow_provider_dualengine.factory.model_assets import warehouse_at_parse
from airflow_provider_dualengine.factory.monitoring_tasks import has_alert_rules, render_run_alerts
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.factory.stages import only_stages, render_stages
from airflow_provider_dualengine.graph import UnifiedGraph, build_graph
from airflow_provider_dualengine.resources.priority import PROJECT_TAG


def build_dag(
    project: ProjectConfig | ProjectDir | None = None,
    *,
    render_config: RenderConfig | None = None,
    execution_config: ExecutionConfig | None = None,
    dag_id: str | None = None,
    schedule: Any = None,
    start_date: Any = None,
    **dag_kwargs: Any,
) -> DAG:
    """Build the DAG of a dual-engine project for one environment.

    :param project: the project folder, or a `ProjectConfig` (environment, stages, compile_if_stale).
    :param render_config: how the graph becomes tasks (`RenderConfig`).
    :param execution_config: what SQLMesh tasks do (`ExecutionConfig`: plan or run, operator args).
    :param dag_kwargs: any other `DAG` argument.
    Raises DualEngineConfigError (one readable message: file, key, problem, fix).
    """
    reject_moved_arguments("build_dag", dag_kwargs)
    source = ProjectConfig.of(project)
    rendering = render_config or RenderConfig()
    execution = execution_config or ExecutionConfig()
    with readable_import_errors():
        loaded = load_project(source.project_dir)
        env = loaded.environment(source.environment)
        if source.compile_if_stale:
            from airflow_provider_dualengine.compiled import ensure_compiled

            ensure_compiled(loaded, source.environment)
        graph = build_graph(loaded)
        contracts = load_structurally_valid_contracts(loaded, graph)
        if source.stages is not None:
            graph = only_stages(graph, list(source.stages), loaded.files["dependency_graph"])
        warehouse = warehouse_at_parse(loaded)
        alerting = rendering.run_history and has_alert_rules(loaded)
        resources = load_resources(loaded)
        # Not used to render, but a broken rules file is an import error like any other.
        load_engine_selection(loaded)
        load_model_organization(loaded)
    ctx = RenderContext(
        project=loaded,
        environment=env,
        sqlmesh_action=execution.sqlmesh_action,
        sqlmesh_model_tasks=rendering.sqlmesh_model_tasks,
        dbt_model_tasks=rendering.dbt_model_tasks,
        split_sqlmesh_branches=rendering.model_level_dependencies and execution.sqlmesh_action is SQLMeshAction.RUN,
        sqlmesh_operator_args=dict(execution.sqlmesh_operator_args),
        dbt_execution=rendering.dbt_execution,
        models_graph=graph.models_graph,
        warehouse=warehouse,
        run_history=rendering.run_history,
        resources=resources,
    )
    if rendering.schedule_on_inputs:
        assets = [Asset(i.asset) for i in graph.external_inputs.values() if i.asset]
        schedule = assets or schedule
    dag = new_dag(
        dag_id or f"dualengine_{loaded.settings.name}_{env.name}",
        schedule=schedule,
        start_date=start_date,
        tags=["sqlmesh", "dbt", env.name, f"{PROJECT_TAG}{loaded.settings.name}"],
        doc_md=_doc(loaded.root, graph, env.name),
        **dag_kwargs,
    )
    with dag:
        groups = render_stages(graph, ctx, rendering.model_level_dependencies, contracts)
        if alerting:
            groups_done = list(groups.values())
            render_run_alerts(loaded, env.name, ctx.pool_args()) << groups_done
    return dag


def _doc(root, graph: UnifiedGraph, env: str) -> str:
    lines = [f"Dual-engine pipeline for `{root}` in environment **{env}**.", ""]
    for stage in graph.stages.values():
        parts = [f"{e.value}: {', '.join(m.name for m in stage.models[e])}" for e in stage.engines()]
        lines.append(
            f"- **{stage.name}** ({'; '.join(parts)}) after {', '.join(stage.upstream_stages + stage.external_inputs) or 'nothing'}"
        )
    return "\n".join(lines)
