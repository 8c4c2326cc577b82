"""The unified graph's stages as Airflow task groups, each engine rendering its own models.

    [stage_1] -> done -> [stage_2] -> done -> ...

Each stage group holds one engine sub-group per engine (SQLMesh model tasks, a Cosmos
task group for dbt), a contract check after each contracted producer, and one `done`
join; stages link through their joins, or model to model with model-level dependencies.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Asset, TaskGroup

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.contracts.producers import contracted_producers
from airflow_provider_dualengine.engines.connections import file_asset_uri
from airflow_provider_dualengine.factory.contract_tasks import render_contract_check, render_static_validation
from airflow_provider_dualengine.factory.dbt_tasks import render_dbt_models
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.factory.resource_tasks import place_engine_tasks
from airflow_provider_dualengine.factory.sqlmesh_tasks import render_sqlmesh_models
from airflow_provider_dualengine.graph import Engine, UnifiedGraph
from airflow_provider_dualengine.sensors.external_input import ExternalInputSensor


def only_stages(graph: UnifiedGraph, names: list[str], graph_file: Any) -> UnifiedGraph:
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


def render_stages(
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
    renderers = {Engine.SQLMESH: render_sqlmesh_models, Engine.DBT: render_dbt_models}
    contracted = contracted_producers(contracts or [], graph)
    validation = render_static_validation(ctx) if contracts and static_validation else None
    inputs = {}
    for name in {n for s in graph.stages.values() for n in s.external_inputs} if wait_for_inputs else ():
        spec = graph.external_inputs[name]
        sensor = inputs[name] = ExternalInputSensor(
            task_id=name,
            paths=spec.paths,
            base_dir=str(ctx.project.root),
            poke_interval=spec.poke_interval_seconds,
            timeout=spec.timeout_seconds,
            inlets=[Asset(spec.asset)] if spec.asset else [],
            doc_md=spec.description or None,
        )
        # the landed files, as Assets: the same URIs the seed models that load them declare
        sensor.inlets += [Asset(file_asset_uri(path)) for path in sensor.literal_files()]
    groups: dict[str, TaskGroup] = {}
    finished: dict[str, EmptyOperator] = {}
    entry: dict[tuple[Engine, str], Any] = {}
    gates: dict[tuple[Engine, str], Any] = {}  # a model's execution-window gate
    done: dict[tuple[Engine, str], Any] = {}
    stage_of = graph.placement()
    for stage in graph.stages.values():
        with TaskGroup(group_id=stage.name, tooltip=stage.description) as group:
            for engine in stage.engines():
                rendered = renderers[engine](stage.models[engine], ctx)
                gate = place_engine_tasks(ctx, engine, rendered.group)
                for name in rendered.entry:
                    entry[(engine, name)], done[(engine, name)] = rendered.entry[name], rendered.done[name]
                    if gate is not None:
                        gates[(engine, name)] = gate
                    if (engine, name) in contracted:  # consumers wait for the contract, not the model
                        check = render_contract_check(
                            contracted[(engine, name)], engine, name, graph, ctx, done[(engine, name)]
                        )
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
                if edge.downstream in gates:  # the window is judged when the work can start
                    done[edge.upstream] >> gates[edge.downstream]
                linked.add((up, down))
    for stage in graph.stages.values():
        for upstream in stage.upstream_stages:
            if (upstream, stage.name) not in linked:
                finished[upstream] >> groups[stage.name]
    return groups
