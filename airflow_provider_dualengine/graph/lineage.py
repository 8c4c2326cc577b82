"""One model graph across both engines: same-engine dependencies plus cross-engine edges.

Cross-engine edges are found, not declared: a dbt source whose table is a SQLMesh model,
a dbt `ref()` to a SQLMesh model (the `dbt_dualengine` plugin), and a SQLMesh model
reading a table that a dbt model writes. Lineage, impact analysis and
stage validation all read this graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from airflow_provider_dualengine.engines.catalog import ModelCatalog
from airflow_provider_dualengine.graph.engine import Engine

NodeKey = tuple[Engine, str]


@dataclass(frozen=True)
class Edge:
    upstream: NodeKey
    downstream: NodeKey
    via: str  # "sqlmesh"/"ref" within an engine; "source", "ref" or "table" across engines

    @property
    def cross_engine(self) -> bool:
        return self.upstream[0] is not self.downstream[0]


@dataclass
class ModelGraph:
    nodes: dict[NodeKey, dict] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def downstream_of(self, key: NodeKey) -> list[NodeKey]:
        """Every model that reads `key`, directly or not, in breadth-first order."""
        children: dict[NodeKey, list[NodeKey]] = {}
        for edge in self.edges:
            children.setdefault(edge.upstream, []).append(edge.downstream)
        seen, queue, order = {key}, deque(children.get(key, [])), []
        while queue:
            node = queue.popleft()
            if node in seen:
                continue
            seen.add(node)
            order.append(node)
            queue.extend(children.get(node, []))
        return order

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


def dbt_relations(dbt: ModelCatalog, base_schema: str | None) -> dict[str, str]:
    """Tables a SQLMesh model may name to read a dbt model: its relation, and the same
    table in the prod schema (the manifest is compiled for one target)."""
    found = {}
    for model in dbt.models.values():
        if model.relation:
            found[model.relation] = model.name
            if base_schema:
                found[f"{base_schema}.{model.relation.split('.')[-1]}"] = model.name
    return found


def build_model_graph(catalogs: dict[Engine, ModelCatalog], dbt_base_schema: str | None = None) -> ModelGraph:
    graph = ModelGraph()
    sqlmesh, dbt = catalogs.get(Engine.SQLMESH), catalogs.get(Engine.DBT)
    for engine, catalog in ((Engine.SQLMESH, sqlmesh), (Engine.DBT, dbt)):
        for model in catalog.models.values() if catalog else []:
            graph.nodes[(engine, model.name)] = {
                "engine": engine.value,
                "name": model.name,
                "kind": model.kind,
                "checks": list(model.checks),
                "columns": dict(model.columns),
                "relation": model.relation,
            }
            for dep in model.depends_on:
                graph.edges.append(
                    Edge((engine, dep), (engine, model.name), "sqlmesh" if engine is Engine.SQLMESH else "ref")
                )
    if sqlmesh and dbt:
        for model in dbt.models.values():
            for table in model.reads_tables:
                if table in sqlmesh.models:
                    graph.edges.append(Edge((Engine.SQLMESH, table), (Engine.DBT, model.name), "source"))
            for name in model.engine_refs:
                if name in sqlmesh.models:
                    graph.edges.append(Edge((Engine.SQLMESH, name), (Engine.DBT, model.name), "ref"))
        relations = dbt_relations(dbt, dbt_base_schema)
        for model in sqlmesh.models.values():
            for table in model.reads_tables:
                if table in relations:
                    graph.edges.append(Edge((Engine.DBT, relations[table]), (Engine.SQLMESH, model.name), "table"))
    return graph
