"""One model graph across both engines: every model of the two projects, same-engine
dependencies plus cross-engine edges (found by `compiled.edges`). Lineage, impact
analysis and stage validation all read this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_dualengine.compiled.edges import Edge, NodeKey, dbt_relations, model_edges, node_id
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog
from airflow_provider_dualengine.graph.walk import breadth_first, children_of

__all__ = ["Edge", "LineageNode", "ModelGraph", "NodeKey", "build_model_graph", "dbt_relations", "node_id"]


@dataclass(frozen=True, slots=True)
class LineageNode:
    """A model of either project, placed in a stage or not."""

    engine: Engine
    name: str
    kind: str | None = None
    checks: tuple[str, ...] = ()  # dbt tests / SQLMesh audits attached to the model
    columns: dict[str, str] = field(default_factory=dict)  # name -> type, where the engine knows them
    relation: str | None = None  # where the engine writes it, when not derived from the name (dbt alias)

    @classmethod
    def of(cls, engine: Engine, model: CatalogModel) -> LineageNode:
        return cls(engine, model.name, model.kind, tuple(model.checks), dict(model.columns), model.relation)

    def to_document(self) -> dict[str, Any]:
        """The node as `dualengine lineage` prints it (tests/audits left out)."""
        return {
            "engine": self.engine.value,
            "name": self.name,
            "kind": self.kind,
            "columns": dict(self.columns),
            "relation": self.relation,
        }


@dataclass
class ModelGraph:
    nodes: dict[NodeKey, LineageNode] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def downstream_of(self, key: NodeKey) -> list[NodeKey]:
        """Every model that reads `key`, directly or not, in breadth-first order."""
        return breadth_first(key, children_of((e.upstream, e.downstream) for e in self.edges))

    def relation_of(self, key: NodeKey) -> str | None:
        """The relation name the engine gives the model, when it is not derived from its name."""
        node = self.nodes.get(key)
        return node.relation if node is not None else None

    def matching(self, name: str) -> list[NodeKey]:
        """Models a user-given name means: 'sqlmesh:staging.stg_orders', 'staging.stg_orders',
        or a short name ('stg_orders'), optionally prefixed with its engine."""
        engine, _, plain = name.rpartition(":")
        return [
            k
            for k in self.nodes
            if (not engine or k[0].value == engine) and (k[1] == plain or k[1].rsplit(".", 1)[-1] == plain)
        ]

    def cross_engine_edges(self) -> list[Edge]:
        return [e for e in self.edges if e.cross_engine]


def build_model_graph(catalogs: dict[Engine, ModelCatalog], dbt_base_schema: str | None = None) -> ModelGraph:
    graph = ModelGraph(edges=model_edges(catalogs, dbt_base_schema))
    for engine in (Engine.SQLMESH, Engine.DBT):
        catalog = catalogs.get(engine)
        for model in catalog.models.values() if catalog else []:
            graph.nodes[(engine, model.name)] = LineageNode.of(engine, model)
    return graph
