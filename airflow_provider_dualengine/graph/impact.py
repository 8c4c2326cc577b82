"""Change impact across engines: what a change to some models reaches, and what to run.

Risk is a plain rule a reviewer can check: high when the change reaches another engine
or a model under a data contract, medium when it reaches other models, low otherwise.
Column edges come from the SQLMesh models' column lineage recorded at compile time; dbt
models have none, so column paths through dbt stop at the dbt model's columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_dualengine.compiled.document import CompiledArtifact
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.lineage import NodeKey, dbt_relations, node_id
from airflow_provider_dualengine.graph.model import UnifiedGraph
from airflow_provider_dualengine.graph.names import resolve_model
from airflow_provider_dualengine.graph.walk import breadth_first, children_of


def contracted_models(contracts_dir: Path) -> dict[str, str]:
    """model name -> contract file, from the project's contracts folder (`contracts:` in
    dualengine.yml). A broken contract file is a DualEngineConfigError (file, key, fix),
    as everywhere else contracts are read."""
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.errors import DualEngineConfigError

    contracts, issues = load_contracts(contracts_dir)
    if issues:
        raise DualEngineConfigError(issues)
    return {c.model.name: str(c.file) for c in contracts}


def analyze_impact(graph: UnifiedGraph, changed: list[str], contracts_dir: Path) -> dict[str, Any]:
    """Per changed model: what it reaches, the risk, the checks and contracts to run.
    `contracts_dir` is the project's `contracts_path`."""
    contracts = contracted_models(contracts_dir)
    stage_of = graph.placement()
    report = {}
    for name in changed:
        key = resolve_model(graph, name)
        downstream = graph.models_graph.downstream_of(key)
        reached = [key, *downstream]
        other_engine = sorted(node_id(k) for k in downstream if k[0] is not key[0])
        touched_contracts = sorted({contracts[m] for _, m in reached if m in contracts})
        risk = "high" if other_engine or touched_contracts else "medium" if downstream else "low"
        report[node_id(key)] = {
            "downstream": [{"engine": e.value, "model": m, "stage": stage_of.get((e, m))} for e, m in downstream],
            "impact_scope": {
                "models": len(downstream),
                "by_engine": {engine.value: sum(1 for e, _ in downstream if e is engine) for engine in Engine},
                "cross_engine_models": other_engine,
                "stages": sorted({stage_of[k] for k in reached if k in stage_of}),
            },
            "risk_level": risk,
            "checks_to_run": {
                node_id(k): list(graph.models_graph.nodes[k].checks)
                for k in reached
                if graph.models_graph.nodes[k].checks
            },
            "contracts_to_check": touched_contracts,
        }
    return report


def column_edges(artifact: CompiledArtifact, dbt_base_schema: str | None = None) -> list[dict[str, Any]]:
    """Column edges `{"from", "to", "cross_engine"}` from the compiled artifact.

    Ids are `engine:model.column`. An upstream table that a dbt model writes becomes that
    dbt model (`analytics.customer_value.value_band` -> `dbt:customer_value.value_band`),
    matched the same way as the model-level "table" edges; any other table that is no
    model stays `table:schema.table.column`. Artifacts compiled before column lineage was
    recorded give no edges.
    """
    sqlmesh = artifact.sqlmesh.models
    relations = dbt_relations(artifact.dbt.catalog(Path()), dbt_base_schema)
    edges = []
    for model, described in sorted(sqlmesh.items()):
        for column, upstream in sorted(described.column_lineage.items()):
            for source in upstream:
                origin = _column_id(source, sqlmesh, relations)
                edges.append(
                    {"from": origin, "to": f"sqlmesh:{model}.{column}", "cross_engine": origin.startswith("dbt:")}
                )
    return edges


def _column_id(column: str, sqlmesh_models: dict[str, Any], dbt_relations: dict[str, str]) -> str:
    table, _, name = column.rpartition(".")
    if table in sqlmesh_models:
        return f"sqlmesh:{column}"
    if table in dbt_relations:
        return f"dbt:{dbt_relations[table]}.{name}"
    return f"table:{column}"


def downstream_columns(edges: list[dict[str, Any]], column: str) -> list[str]:
    """Every column computed from `column` (an `engine:model.column` id), breadth first."""
    return breadth_first(column, children_of((edge["from"], edge["to"]) for edge in edges))


def lineage_document(graph: UnifiedGraph, columns: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Nodes and model edges; with `columns` (see `column_edges`), the column edges too."""
    stage_of = graph.placement()
    document = {
        "nodes": [
            {"id": node_id(k), **node.to_document(), "stage": stage_of.get(k)}
            for k, node in sorted(graph.models_graph.nodes.items())
        ],
        "edges": [
            {
                "from": node_id(e.upstream),
                "to": node_id(e.downstream),
                "via": e.via,
                "cross_engine": e.cross_engine,
            }
            for e in graph.models_graph.edges
        ],
    }
    if columns is not None:
        document["columns"] = columns
    return document


def lineage_mermaid(graph: UnifiedGraph, columns: list[dict[str, Any]] | None = None) -> str:
    """Mermaid flowchart: one subgraph per engine, cross-engine edges drawn thick. With
    `columns`, one dotted edge per pair of models lists the column pairs it carries."""
    ids = {key: f"n{i}" for i, key in enumerate(sorted(graph.models_graph.nodes))}
    lines = ["flowchart LR"]
    for engine in Engine:
        lines.append(f"  subgraph {engine.value}")
        lines += [f'    {ids[k]}["{k[1]}"]' for k in sorted(graph.models_graph.nodes) if k[0] is engine]
        lines.append("  end")
    for edge in graph.models_graph.edges:
        arrow = "==>|cross-engine|" if edge.cross_engine else "-->"
        lines.append(f"  {ids[edge.upstream]} {arrow} {ids[edge.downstream]}")
    for (upstream, downstream), pairs in _column_pairs(columns or [], set(ids)).items():
        lines.append(f'  {ids[upstream]} -.->|"{"<br/>".join(pairs)}"| {ids[downstream]}')
    return "\n".join(lines)


def _column_pairs(columns: list[dict[str, Any]], models: set[NodeKey]) -> dict[tuple[NodeKey, NodeKey], list[str]]:
    """(upstream model, downstream model) -> ["column -> column", ...]; tables that are no
    model have no node to draw from and are left out."""
    pairs: dict[tuple[NodeKey, NodeKey], list[str]] = {}
    for edge in columns:
        (upstream, source), (downstream, target) = _split_column_id(edge["from"]), _split_column_id(edge["to"])
        if upstream in models and downstream in models:
            pairs.setdefault((upstream, downstream), []).append(f"{source} -> {target}")
    return pairs


def _split_column_id(column_id: str) -> tuple[NodeKey | None, str]:
    """'sqlmesh:staging.stg_orders.amount' -> ((Engine.SQLMESH, 'staging.stg_orders'), 'amount')."""
    engine, _, name = column_id.partition(":")
    model, _, column = name.rpartition(".")
    return ((Engine(engine), model) if engine in {e.value for e in Engine} else None), column
