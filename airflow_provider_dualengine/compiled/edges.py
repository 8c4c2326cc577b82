"""Which model reads which, across both engines, from the two compiled catalogs.

Cross-engine edges are found, not declared: a dbt source whose table is a SQLMesh model,
a dbt `ref()` to a SQLMesh model (the `dbt_dualengine` plugin), and a SQLMesh model
reading a table that a dbt model writes. The compiled artifact records the cross-engine
ones; the graph layer builds its model graph from the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.engines.catalog import ModelCatalog

NodeKey = tuple[Engine, str]


@dataclass(frozen=True, slots=True)
class Edge:
    upstream: NodeKey
    downstream: NodeKey
    via: str  # "sqlmesh"/"ref" within an engine; "source", "ref" or "table" across engines

    @property
    def cross_engine(self) -> bool:
        return self.upstream[0] is not self.downstream[0]


def node_id(key: NodeKey) -> str:
    """'sqlmesh:staging.stg_orders': how reports, lineage documents and the artifact name a model."""
    return f"{key[0].value}:{key[1]}"


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


def model_edges(catalogs: dict[Engine, ModelCatalog], dbt_base_schema: str | None = None) -> list[Edge]:
    """Same-engine dependencies (SQLMesh models, then dbt models), then the cross-engine edges."""
    edges = []
    sqlmesh, dbt = catalogs.get(Engine.SQLMESH), catalogs.get(Engine.DBT)
    for engine, catalog in ((Engine.SQLMESH, sqlmesh), (Engine.DBT, dbt)):
        via = "sqlmesh" if engine is Engine.SQLMESH else "ref"
        for model in catalog.models.values() if catalog else []:
            edges += [Edge((engine, dep), (engine, model.name), via) for dep in model.depends_on]
    if sqlmesh and dbt:
        for model in dbt.models.values():
            for table in model.reads_tables:
                if table in sqlmesh.models:
                    edges.append(Edge((Engine.SQLMESH, table), (Engine.DBT, model.name), "source"))
            for name in model.engine_refs:
                if name in sqlmesh.models:
                    edges.append(Edge((Engine.SQLMESH, name), (Engine.DBT, model.name), "ref"))
        relations = dbt_relations(dbt, dbt_base_schema)
        for model in sqlmesh.models.values():
            for table in model.reads_tables:
                if table in relations:
                    edges.append(Edge((Engine.DBT, relations[table]), (Engine.SQLMESH, model.name), "table"))
    return edges
