"""Where a deployment's relations live: green (being validated) and prod (being replaced).

One place that names, per model, its relation in the green SQLMesh environment / idle dbt
slot and in prod, so integration checks, promotion and rollback agree on the names.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_dualengine.engines.warehouse import quote_ident
from airflow_provider_dualengine.graph import Engine, UnifiedGraph

GREEN_SUFFIX = "_green"


def green_environment(sqlmesh_environment: str) -> str:
    """The SQLMesh environment a deployment of `sqlmesh_environment` is built in first."""
    return f"{sqlmesh_environment}{GREEN_SUFFIX}"


@dataclass(frozen=True)
class DeployedModel:
    engine: Engine
    name: str
    green: str  # quoted relation being validated
    prod: str  # quoted relation prod readers use


def deployed_models(
    graph: UnifiedGraph, sqlmesh_environment: str, dbt_live_schema: str, dbt_slot: str
) -> list[DeployedModel]:
    """Every model of the graph with its green and prod relation."""
    green_suffix = f"__{green_environment(sqlmesh_environment)}"
    prod_suffix = "" if sqlmesh_environment == "prod" else f"__{sqlmesh_environment}"
    found = []
    for engine, name in graph.placement():
        if engine is Engine.SQLMESH:
            schema, table = name.split(".")[-2:]
            found.append(DeployedModel(engine, name, _q(schema + green_suffix, table), _q(schema + prod_suffix, table)))
        else:
            table = dbt_table(graph, name)
            found.append(DeployedModel(engine, name, _q(dbt_slot, table), _q(dbt_live_schema, table)))
    return found


def dbt_table(graph: UnifiedGraph, name: str) -> str:
    relation = graph.models_graph.nodes.get((Engine.DBT, name), {}).get("relation")
    return (relation or name).split(".")[-1]


def _q(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"
