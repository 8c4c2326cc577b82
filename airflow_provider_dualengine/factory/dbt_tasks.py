"""A stage's dbt models as a Cosmos DbtTaskGroup, rendered from the manifest.

Cosmos owns dbt rendering; we only decide which models, which profile (built from the
Airflow warehouse connection, never a profiles.yml with secrets), which target schema,
and which SQLMesh environment the dbt sources read (`sqlmesh_schema_suffix`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import Asset
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

from airflow_provider_dualengine.factory.render_context import RenderContext, RenderedModels
from airflow_provider_dualengine.graph.model import ModelNode

SQLMESH_SUFFIX_VAR = "sqlmesh_schema_suffix"  # the default of dualengine.yml's dbt.sqlmesh_suffix_var


TARGET_SCHEMA_ENV = "DUALENGINE_DBT_TARGET_SCHEMA"


def _run_time_schema(ctx: RenderContext) -> bool:
    """A target schema decided at run time (a Jinja template, e.g. a deployment's idle slot)."""
    return "{{" in ctx.environment.dbt_schema


def profile_config(ctx: RenderContext) -> ProfileConfig:
    # Cosmos writes profile_args into profiles.yml literally; dbt renders env_var() there, and
    # Airflow renders the operators' `env`, so a run-time schema reaches dbt this way.
    schema = f"{{{{ env_var('{TARGET_SCHEMA_ENV}') }}}}" if _run_time_schema(ctx) else ctx.environment.dbt_schema
    profile_args = {"schema": schema, "threads": 1}
    if ctx.project.settings.warehouse.type == "postgres":
        from cosmos.profiles import PostgresUserPasswordProfileMapping as Mapping
    else:
        from cosmos.profiles import DuckDBUserPasswordProfileMapping as Mapping
    return ProfileConfig(
        profile_name=ctx.project.settings.dbt.profile,
        target_name=ctx.environment.dbt_target,
        profile_mapping=Mapping(conn_id=ctx.conn_id, profile_args=profile_args),
    )


def render_dbt_models(models: tuple[ModelNode, ...], ctx: RenderContext) -> RenderedModels:
    from airflow_provider_dualengine.engines.dbt.stage_manifest import stage_manifest

    project = ctx.project
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
        profile_config=profile_config(ctx),
        # BUILDABLE: a test reading models of two stages (relationships) runs with the later
        # model, never in the earlier stage where its other parent does not exist yet.
        execution_config=ExecutionConfig(
            invocation_mode=InvocationMode.DBT_RUNNER, test_indirect_selection=TestIndirectSelection.BUILDABLE
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=[f"tag:{stage_tag}"],
            test_behavior=TestBehavior.BUILD if ctx.dbt_build_per_model else TestBehavior.AFTER_EACH,
            # We declare each model's Asset on the task that builds it (below); Cosmos' own
            # run-time emission through an alias would show no producer and, beside ours,
            # emit every event twice. (Cosmos takes this from RenderConfig only.)
            emit_datasets=False,
        ),
        # The dbt_dualengine plugin reads the SQLMesh models from the artifact, so that a
        # ref() to a SQLMesh model resolves inside Cosmos' temporary copy of the project.
        operator_args=_operator_args(ctx),
    )
    # Cosmos keys each model's task (or run+test group) by dbt unique_id.
    per_model = {m.name: group.tasks_map[m.unique_id] for m in models if m.unique_id in group.tasks_map}
    for model in models:
        if model.name in per_model:
            _declare_output(per_model[model.name], ctx.asset_uri("dbt", model.name, model.relation))
    return RenderedModels(group, per_model, per_model)


def _declare_output(node: Any, uri: str | None) -> None:
    """Declare the model's table as an outlet of the task that builds it (its run or build
    task), so Airflow's Asset page lists that task as its producer."""
    if uri is None:
        return
    children = getattr(node, "children", None)
    builders = (
        [t for t in children.values() if t.task_id.rsplit(".", 1)[-1] in ("run", "build")] if children else [node]
    )
    for task in builders:
        task.outlets = [*task.outlets, Asset(uri)]


def _operator_args(ctx: RenderContext) -> dict:
    MODELS_FILE_ENV = "DUALENGINE_SQLMESH_MODELS"  # engines.dbt.sqlmesh_refs; not imported: it needs dbt

    env = {MODELS_FILE_ENV: str(ctx.project.artifact_path.resolve())}
    args: dict = {**ctx.pool_args(), "env": env}
    if _run_time_schema(ctx):
        env[TARGET_SCHEMA_ENV] = ctx.environment.dbt_schema
    return args
