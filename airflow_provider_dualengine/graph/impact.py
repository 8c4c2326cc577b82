"""Change impact across engines: what a change to some models reaches, and what to run.

Risk is a plain rule a reviewer can check: high when the change reaches another engine
or a model under a data contract, medium when it reaches other models, low otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from airflow_provider_dualengine.graph.engine import Engine
from airflow_provider_dualengine.graph.lineage import NodeKey
from airflow_provider_dualengine.graph.model import UnifiedGraph


def contracted_models(contracts_dir: Path) -> dict[str, str]:
    """model name -> contract file, from the seed's `shared/schemas/*.yml` format."""
    found = {}
    for path in sorted(contracts_dir.glob("*.y*ml")) if contracts_dir.is_dir() else []:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in data.get("models", []) if isinstance(data, dict) else []:
            if isinstance(model, dict) and model.get("name"):
                found[model["name"]] = str(path)
    return found


def resolve_model(graph: UnifiedGraph, name: str) -> NodeKey:
    """'sqlmesh:staging.stg_orders', 'staging.stg_orders' or a unique short name."""
    engine, _, plain = name.rpartition(":")
    candidates = [k for k in graph.models_graph.nodes if (not engine or k[0].value == engine) and (k[1] == plain or k[1].rsplit(".", 1)[-1] == plain)]
    if len(candidates) != 1:
        known = "ambiguous: " + ", ".join(f"{k[0].value}:{k[1]}" for k in candidates) if candidates else "no such model in either project"
        raise KeyError(f"{name}: {known}")
    return candidates[0]


def analyze_impact(graph: UnifiedGraph, changed: list[str], contracts_dir: Path) -> dict[str, Any]:
    contracts = contracted_models(contracts_dir)
    stage_of = graph.placement()
    report = {}
    for name in changed:
        key = resolve_model(graph, name)
        downstream = graph.models_graph.downstream_of(key)
        reached = [key, *downstream]
        other_engine = sorted(f"{e.value}:{m}" for e, m in downstream if e is not key[0])
        touched_contracts = sorted({contracts[m] for _, m in reached if m in contracts})
        risk = "high" if other_engine or touched_contracts else "medium" if downstream else "low"
        report[f"{key[0].value}:{key[1]}"] = {
            "downstream": [{"engine": e.value, "model": m, "stage": stage_of.get((e, m))} for e, m in downstream],
            "impact_scope": {
                "models": len(downstream),
                "by_engine": {engine.value: sum(1 for e, _ in downstream if e is engine) for engine in Engine},
                "cross_engine_models": other_engine,
                "stages": sorted({stage_of[k] for k in reached if k in stage_of}),
            },
            "risk_level": risk,
            "checks_to_run": {f"{e.value}:{m}": graph.models_graph.nodes[(e, m)]["checks"] for e, m in reached if graph.models_graph.nodes[(e, m)]["checks"]},
            "contracts_to_check": touched_contracts,
        }
    return report


def lineage_document(graph: UnifiedGraph) -> dict[str, Any]:
    stage_of = graph.placement()
    return {
        "nodes": [{"id": f"{k[0].value}:{k[1]}", **{x: v for x, v in node.items() if x != "checks"}, "stage": stage_of.get(k)} for k, node in sorted(graph.models_graph.nodes.items())],
        "edges": [{"from": f"{e.upstream[0].value}:{e.upstream[1]}", "to": f"{e.downstream[0].value}:{e.downstream[1]}", "via": e.via, "cross_engine": e.cross_engine} for e in graph.models_graph.edges],
    }


def lineage_mermaid(graph: UnifiedGraph) -> str:
    """Mermaid flowchart: one subgraph per engine, cross-engine edges drawn thick."""
    ids = {key: f"n{i}" for i, key in enumerate(sorted(graph.models_graph.nodes))}
    lines = ["flowchart LR"]
    for engine in Engine:
        lines.append(f"  subgraph {engine.value}")
        lines += [f'    {ids[k]}["{k[1]}"]' for k in sorted(graph.models_graph.nodes) if k[0] is engine]
        lines.append("  end")
    for edge in graph.models_graph.edges:
        arrow = "==>|cross-engine|" if edge.cross_engine else "-->"
        lines.append(f"  {ids[edge.upstream]} {arrow} {ids[edge.downstream]}")
    return "\n".join(lines)
