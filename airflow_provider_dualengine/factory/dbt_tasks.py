"""A stage's dbt models as Airflow tasks, in one of two shapes (`RenderConfig.dbt_execution`):

- `stage` (default): one `dbt build` per stage (or per independent branch of it, with
  model-level dependencies) and one reporting task per model, as for SQLMesh:

      [build_stage] -> [stg_customers] -> [customer_value]

  dbt starts, parses and connects once per stage instead of twice per model.
- `per_model`: Cosmos' DbtTaskGroup from the manifest, dbt run + test tasks per model.
  Cosmos is imported only then.

Either way we decide which models, the profile (from the Airflow warehouse connection,
never a profiles.yml with secrets; dbt threads and warehouse session settings from
`config/resources.yml`), the target schema, and which SQLMesh environment the dbt sources
read (`sqlmesh_schema_suffix`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import Asset, TaskGroup

from airflow_provider_dualengine.factory.render_context import DbtExecution, RenderContext, RenderedModels
from airflow_provider_dualengine.factory.sqlmesh_tasks import independent_branches
from airflow_provider_dualengine.graph import Engine
from airflow_provider_dualengine.graph.model import ModelNode
from airflow_provider_dualengine.graph.relations import model_relation
from airflow_provider_dualengine.hooks.dbt import DbtHook

BUILD_TASK_ID = "build_stage"
MODELS_FILE_ENV = "DUALENGINE_SQLMESH_MODELS"  # engines.dbt.sqlmesh_refs; not imported: it needs dbt


def render_dbt_models(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    if ctx.dbt_execution is DbtExecution.PER_MODEL:
        return _render_with_cosmos(models, ctx)
    return _render_stage_build(models, ctx)


def _render_stage_build(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    """One DbtBuildOperator per stage (per independent branch when SQLMesh splits its
    branches too), one DbtModelOperator per model, model edges as in dbt."""
    from airflow_provider_dualengine.operators.dbt import DbtBuildOperator
    from airflow_provider_dualengine.operators.dbt_model import DbtModelOperator

    branches = independent_branches(models) if ctx.split_sqlmesh_branches else [models]
    with TaskGroup(
        group_id="dbt",
        group_display_name=f"dbt · {len(models)} model{'s' if len(models) != 1 else ''}",
        tooltip=f"dbt build of {', '.join(m.name for m in models)}: {len(branches)} dbt invocation(s)",
    ) as group:
        entry: dict[str, Any] = {}
        for branch in branches:
            task_id = BUILD_TASK_ID if len(branches) == 1 else f"build__{branch[0].name}"
            build = DbtBuildOperator(
                task_id=task_id,
                models=[m.name for m in branch],
                fail_on_model_error=not ctx.dbt_model_tasks,  # else each model's task fails instead
                doc_md=f"One `dbt build` (models and their tests) of {', '.join(m.name for m in branch)}.",
                **_dbt_args(ctx),
                **ctx.pool_args(),
                **ctx.deployment_gate_args(),
                **ctx.history_args(Engine.DBT, branch),
            )
            entry.update({m.name: build for m in branch})
        if not ctx.dbt_model_tasks:
            ctx.declare_model_outlets(Engine.DBT, models, entry)
            return RenderedModels(group, entry, dict(entry))
        tasks: dict[str, Any] = {}
        for model in models:
            schema, table = model_relation(ctx.project, Engine.DBT, model.name, model.relation, ctx.environment)
            tasks[model.name] = DbtModelOperator(
                task_id=model.name,
                model=model.name,
                build_task_id=entry[model.name].task_id,
                relation=f"{schema}.{table}",
                asset_uri=ctx.asset_uri("dbt", model.name, model.relation),
                lineage_inputs=ctx.lineage_inputs(Engine.DBT, model.name),
                inlets=ctx.model_inlets(model),
                columns={c: t for c, t in model.columns if t} or None,
                doc_md=f"dbt model `{model.name}`: outcome of `{entry[model.name].task_id}`; a retry rebuilds it alone.",
                **_dbt_args(ctx),
                **ctx.history_args(Engine.DBT, [model]),
            )
        for model in models:
            upstream = [tasks[d] for d in model.depends_on if d in tasks]
            for task in upstream or [entry[model.name]]:
                task >> tasks[model.name]
    return RenderedModels(group, entry, tasks)


def _hook_args(ctx: RenderContext) -> dict[str, Any]:
    """dbt's profile in this environment: the warehouse connection, profile, target, schema."""
    project, env = ctx.project, ctx.environment
    return {
        "conn_id": ctx.conn_id,
        "warehouse_type": project.settings.warehouse.type,
        "profile_name": project.settings.dbt.profile,
        "target_name": env.dbt_target,
        "schema": env.dbt_schema,
    }


def _dbt_args(ctx: RenderContext) -> dict[str, Any]:
    """What every dbt task needs to run dbt in this environment. dbt's threads and session
    settings are read by the task when it runs, from this project's `config/resources.yml`
    for this environment (operators/engine_session.py)."""
    project, env = ctx.project, ctx.environment
    return {
        **_hook_args(ctx),
        "project_dir": str(project.dbt_path),
        "dbt_vars": {project.settings.dbt.sqlmesh_suffix_var: env.sqlmesh_view_suffix},
        "env": {MODELS_FILE_ENV: str(project.artifact_path.resolve())},
        "resources_from": {"project_dir": str(project.root), "environment": env.name},
    }


def _cosmos_hook(ctx: RenderContext) -> DbtHook:
    """The hook whose profile Cosmos renders: dbt's allocation in this environment
    (resources/allocation.py) decided now, as Cosmos writes the profile at parse time."""
    import pendulum

    from airflow_provider_dualengine.resources.allocation import allocations

    allocated = allocations(ctx.project, ctx.environment.name, pendulum.now("UTC"))["dbt"]
    return DbtHook(**_hook_args(ctx), threads=allocated.threads, warehouse_session=allocated.session)


def _render_with_cosmos(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    from airflow_provider_dualengine.engines.dbt.stage_manifest import stage_manifest

    project = ctx.project
    hook = _cosmos_hook(ctx)
    manifest_path, stage_tag = stage_manifest(project.dbt_manifest_path, [m.unique_id for m in models if m.unique_id])
    project_config = ProjectConfig(
        dbt_project_path=project.dbt_path,
        manifest_path=manifest_path,
        project_name=project.dbt_project_name,
        install_dbt_deps=False,
        dbt_vars={project.settings.dbt.sqlmesh_suffix_var: ctx.environment.sqlmesh_view_suffix},
    )
    # Our stage manifest is always a local file. Cosmos wraps it in ObjectStoragePath, whose
    # first open() loads every Airflow plugin for hook lineage (0.7 s of parse time).
    project_config.manifest_path = Path(manifest_path)
    group = DbtTaskGroup(
        group_id="dbt",
        # Airflow 3's graph draws no operator colours: the group's name says the engine.
        group_display_name=f"dbt · {len(models)} model{'s' if len(models) != 1 else ''}",
        tooltip=f"dbt (Cosmos): {', '.join(m.name for m in models)}",
        project_config=project_config,
        # threads and DuckDB session settings are in the profile; PostgreSQL's in PGOPTIONS (env)
        profile_config=hook.profile_config(),
        # BUILDABLE: a test reading models of two stages (relationships) runs with the later
        # model, never in the earlier stage where its other parent does not exist yet.
        execution_config=ExecutionConfig(
            invocation_mode=InvocationMode.DBT_RUNNER, test_indirect_selection=TestIndirectSelection.BUILDABLE
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=[f"tag:{stage_tag}"],
            test_behavior=TestBehavior.AFTER_EACH,
            # We declare each model's Asset on the task that builds it (below); Cosmos' own
            # run-time emission through an alias would show no producer and, beside ours,
            # emit every event twice. (Cosmos takes this from RenderConfig only.)
            emit_datasets=False,
        ),
        # The dbt_dualengine plugin reads the SQLMesh models from the artifact, so that a
        # ref() to a SQLMesh model resolves inside Cosmos' temporary copy of the project.
        operator_args=_operator_args(ctx, models, hook),
    )
    # Cosmos keys each model's task (or run+test group) by dbt unique_id.
    per_model = {m.name: group.tasks_map[m.unique_id] for m in models if m.unique_id in group.tasks_map}
    for model in models:
        if model.name in per_model:
            _declare_assets(
                per_model[model.name], ctx.asset_uri("dbt", model.name, model.relation), ctx.model_inlets(model)
            )
    return RenderedModels(group, per_model, per_model)


def _declare_assets(node: Any, uri: str | None, inlets: list[Any]) -> None:
    """Declare the model's table as an outlet of the task that builds it (its run or build
    task), so Airflow's Asset page lists that task as its producer, and what it reads as
    that task's inlets."""
    children = getattr(node, "children", None)
    builders = (
        [t for t in children.values() if t.task_id.rsplit(".", 1)[-1] in ("run", "build")] if children else [node]
    )
    for task in builders:
        task.outlets = [*task.outlets, *([Asset(uri)] if uri else [])]
        task.inlets = [*task.inlets, *inlets]


def _operator_args(ctx: RenderContext, models: tuple[ModelNode, ...], hook: DbtHook) -> dict:
    # Cosmos sets `env` for each dbt invocation only (DBT_RUNNER: around dbt's call)
    env = {MODELS_FILE_ENV: str(ctx.project.artifact_path.resolve()), **hook.session_environ()}
    args = {**ctx.pool_args(), "env": env}
    history = ctx.history_args(Engine.DBT, models)
    if history:  # each run task records its model from the run_results.json it leaves
        from airflow_provider_dualengine.monitoring.engine_records import record_cosmos_results

        args["callback"] = record_cosmos_results
        args["callback_args"] = {"conn_id": ctx.conn_id, **history}
    return args
