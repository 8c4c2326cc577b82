"""A user-given model name to the one model it means, for every command and Asset list."""

from __future__ import annotations

import difflib

from airflow_provider_dualengine.graph.lineage import NodeKey, node_id
from airflow_provider_dualengine.graph.model import UnifiedGraph


class UnknownModel(LookupError):
    """A model name that matches no model (`candidates` empty), or several, of the two projects."""

    def __init__(self, name: str, candidates: list[NodeKey], message: str):
        super().__init__(message)
        self.name = name
        self.candidates = candidates


def resolve_model(graph: UnifiedGraph, name: str) -> NodeKey:
    """'sqlmesh:staging.stg_orders', 'staging.stg_orders' or a unique short name; else
    UnknownModel saying what the name matched and how to name the model instead."""
    candidates = graph.models_graph.matching(name)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise UnknownModel(
            name,
            candidates,
            f"model '{name}' is ambiguous: {', '.join(node_id(k) for k in candidates)}\n    fix: give the engine or the full name, e.g. {node_id(candidates[0])}",
        )
    nodes = graph.models_graph.nodes
    known = sorted({k[1] for k in nodes} | {k[1].rsplit(".", 1)[-1] for k in nodes})
    close = difflib.get_close_matches(name.rpartition(":")[2], known, n=3, cutoff=0.6)
    maybe = f"did you mean {', '.join(close)}? " if close else ""
    raise UnknownModel(
        name,
        [],
        f"model '{name}': no such model in either project (SQLMesh or dbt)\n    fix: {maybe}name a SQLMesh model as schema.table, a dbt model by its name, or either with its engine (sqlmesh:..., dbt:...)",
    )
