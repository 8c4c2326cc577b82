"""build_dag(): the dependency_graph YAML -> an Airflow DAG of one TaskGroup per stage.

The factory speaks only to the unified graph; each engine renders its own models
(`engines/<engine>/render.py`). Nothing here loads a SQLMesh Context or runs dbt, so
parsing stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, TaskGroup

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.factory.model_assets import warehouse_at_parse
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.graph import Engine, UnifiedGraph, build_graph
from airflow_provider_dualengine.sensors.external_input import ExternalInputSensor


def _renderers() -> dict[Engine, Callable[..., Any]]:
    from airflow_provider_dualengine.engines.dbt.render import render_dbt_models
    from airflow_provider_dualengine.engines.sqlmesh.render import render_sqlmesh_models

    return {Engine.SQLMESH: render_sqlmesh_models, Engine.DBT: render_dbt_models}


def build_dag(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    environment: str | None = None,
    dag_id: str | None = None,
    schedule: Any = None,
    start_date: Any = None,
    schedule_on_inputs: bool = False,
    sqlmesh_action: str = "plan",
    sqlmesh_model_tasks: bool = True,
    model_level_dependencies: bool = False,
    compile_if_stale: bool = False,
    sqlmesh_operator_args: dict[str, Any] | None = None,
    stages: list[str] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """Build the DAG for a dual-engine project.

    :param project_dir: folder holding `dualengine.yml` (default: $DUALENGINE_PROJECT_DIR).
    :param environment: a name from `dual_engine_environments.yml` (default: the project's).
    :param schedule_on_inputs: schedule on the external inputs' Assets instead of `schedule`.
    :param sqlmesh_action: "plan" (plan + apply code changes, then backfill) or "run" (due cron intervals).
    :param sqlmesh_model_tasks: one Airflow task per SQLMesh model (default); False renders one
        task per SQLMesh stage, for very large projects where per-model tasks cost more than they show.
    :param model_level_dependencies: wait for the models actually read (across engines) instead of
        the whole previous stage, so independent branches overlap. Stages listed in `depends_on`
        that share no model edge keep their stage-level edge. With `sqlmesh_action="run"`, each
        independent branch of a SQLMesh stage also gets its own engine run.
    :param compile_if_stale: run `dualengine compile` during parsing when the artifact is missing
        or stale (slow: seconds per parse while it happens); default off, compile at deploy time.
    :param stages: render only these stages (default: all). The others run in another DAG;
        schedule this one on their models' Assets (`model_assets(...)`) instead of stage order.
    :param sqlmesh_operator_args: extra arguments for every SQLMesh plan/run task (e.g.
        ``{"execution_time": "{{ data_interval_end }}"}``, ``retries``), like Cosmos' operator_args.
    Raises DualEngineConfigError (one readable message: file, key, problem, fix).
    """
    try:
        project = load_project(project_dir)
        env = project.environment(environment)
        if compile_if_stale:
            from airflow_provider_dualengine.compiled import ensure_compiled

            ensure_compiled(project, environment)
        graph = build_graph(project)
        contracts = _load_contracts(project, graph)
        if stages is not None:
            graph = _only_stages(graph, stages, project.files["dependency_graph"])
        warehouse = warehouse_at_parse(project)
    except DualEngineConfigError as exc:
        # Re-raised here without its chain so the UI's import error is the message, not a traceback wall.
        raise DualEngineConfigError(exc.issues) from None
    if sqlmesh_action not in ("plan", "run"):
        raise ValueError(f"sqlmesh_action must be 'plan' or 'run', not {sqlmesh_action!r}")
    ctx = RenderContext(
        project=project,
        environment=env,
        sqlmesh_action=sqlmesh_action,
        sqlmesh_model_tasks=sqlmesh_model_tasks,
        split_sqlmesh_branches=model_level_dependencies and sqlmesh_action == "run",
        sqlmesh_operator_args=dict(sqlmesh_operator_args or {}),
        warehouse=warehouse,
    )
    if schedule_on_inputs:
        assets = [Asset(i.asset) for i in graph.external_inputs.values() if i.asset]
        schedule = assets or schedule
    dag = DAG(
        dag_id=dag_id or f"dualengine_{project.settings.name}_{env.name}",
        schedule=schedule,
        start_date=start_date or pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        tags=["dualengine", "sqlmesh", "dbt", env.name],
        doc_md=_doc(project.root, graph, env.name),
        **dag_kwargs,
    )
    with dag:
        _render(graph, ctx, model_level_dependencies, contracts)
    return dag


def _only_stages(graph: UnifiedGraph, names: list[str], graph_file: Any) -> UnifiedGraph:
    """The graph cut down to `names`; edges from stages outside it are dropped (another
    DAG runs those, and this one is scheduled on their Assets)."""
    unknown = [n for n in names if n not in graph.stages]
    if unknown or not names:
        issue = ConfigIssue(
            graph_file,
            "dependency_graph",
            f"build_dag(stages=...) names unknown stage(s): {', '.join(unknown) or '(none given)'}",
            f"use stages of this project: {', '.join(graph.stages)}",
        )
        raise DualEngineConfigError([issue])
    kept = {
        n: replace(s, upstream_stages=tuple(u for u in s.upstream_stages if u in names))
        for n, s in graph.stages.items()
        if n in names
    }
    return replace(graph, stages=kept)


def _load_contracts(project: Any, graph: UnifiedGraph) -> list[Any]:
    """Contract files must be valid and name existing producers and consumers, or the DAG
    does not load (the import error names file, key and fix); column and type checks run
    in the DAG's first task instead, so a broken contract fails a run, not the DAG."""
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.contracts.static import check_contracts

    contracts, issues = load_contracts(project.contracts_path)
    if not issues:
        findings = check_contracts(contracts, graph, structural_only=True)
        issues = [ConfigIssue(f.file, f.key, f.message, f.hint) for f in findings if f.severity == "error"]
    if issues:
        raise DualEngineConfigError(issues)
    return contracts


def _render(
    graph: UnifiedGraph,
    ctx: RenderContext,
    model_level: bool = False,
    contracts: list[Any] | None = None,
    *,
    static_validation: bool = True,
    wait_for_inputs: bool = True,
) -> dict[str, TaskGroup]:
    """The stage groups (returned by name); `static_validation`/`wait_for_inputs` add the
    contract check task and the external-input sensors (a deployment places its own)."""
    from airflow_provider_dualengine.factory.contract_tasks import (
        contracted_producers,
        render_contract_check,
        render_static_validation,
    )

    renderers = _renderers()
    contracted = contracted_producers(contracts or [], graph)
    validation = render_static_validation(ctx) if contracts and static_validation else None
    inputs = {}
    for name in {n for s in graph.stages.values() for n in s.external_inputs} if wait_for_inputs else ():
        spec = graph.external_inputs[name]
        inputs[name] = ExternalInputSensor(
            task_id=name,
            paths=spec.paths,
            base_dir=str(ctx.project.root),
            poke_interval=spec.poke_interval_seconds,
            timeout=spec.timeout_seconds,
            inlets=[Asset(spec.asset)] if spec.asset else [],
            doc_md=spec.description or None,
        )
    groups: dict[str, TaskGroup] = {}
    finished: dict[str, EmptyOperator] = {}
    entry: dict[tuple[Engine, str], Any] = {}
    done: dict[tuple[Engine, str], Any] = {}
    stage_of = graph.placement()
    for stage in graph.stages.values():
        with TaskGroup(group_id=stage.name, tooltip=stage.description) as group:
            for engine in stage.engines():
                rendered = renderers[engine](stage.models[engine], ctx)
                for name in rendered.entry:
                    entry[(engine, name)], done[(engine, name)] = rendered.entry[name], rendered.done[name]
                    if (engine, name) in contracted:  # consumers wait for the contract, not the model
                        check = render_contract_check(contracted[(engine, name)], engine, name, graph, ctx)
                        done[(engine, name)] >> check
                        done[(engine, name)] = check
            # One join point per stage: linking two stages through it costs N + M edges
            # instead of N x M between their leaves and roots (seconds of parse time at 500 models).
            leaves = list(group.get_leaves())
            finished[stage.name] = EmptyOperator(task_id="done", doc_md=f"Every model of {stage.name} is built.")
            leaves >> finished[stage.name]
        groups[stage.name] = group
        for name in stage.external_inputs:
            if name in inputs:
                inputs[name] >> group
        if validation is not None and not stage.upstream_stages:
            validation >> group
    linked: set[tuple[str, str]] = set()
    if model_level:
        for edge in graph.models_graph.edges:
            up, down = stage_of.get(edge.upstream), stage_of.get(edge.downstream)
            if up and down and up != down and edge.upstream in done and edge.downstream in entry:
                done[edge.upstream] >> entry[edge.downstream]
                linked.add((up, down))
    for stage in graph.stages.values():
        for upstream in stage.upstream_stages:
            if (upstream, stage.name) not in linked:
                finished[upstream] >> groups[stage.name]
    return groups


def _doc(root, graph: UnifiedGraph, env: str) -> str:
    lines = [f"Dual-engine pipeline for `{root}` in environment **{env}**.", ""]
    for stage in graph.stages.values():
        parts = [f"{e.value}: {', '.join(m.name for m in stage.models[e])}" for e in stage.engines()]
        lines.append(
            f"- **{stage.name}** ({'; '.join(parts)}) after {', '.join(stage.upstream_stages + stage.external_inputs) or 'nothing'}"
        )
    return "\n".join(lines)
