"""Where a deployment's relations live: green (being validated) and prod (being replaced).

Names, per model, its relation in the green SQLMesh environment / idle dbt slot and in
prod, as (schema, table) parts, so integration checks, promotion and rollback agree on
them. The naming rule itself is the project's one (graph/relations.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_dualengine.deployments.relations import Relation
from airflow_provider_dualengine.graph import Engine, UnifiedGraph
from airflow_provider_dualengine.graph.relations import dbt_table, sqlmesh_view

GREEN_SUFFIX = "_green"


def green_environment(sqlmesh_environment: str) -> str:
    """The SQLMesh environment a deployment of `sqlmesh_environment` is built in first."""
    return f"{sqlmesh_environment}{GREEN_SUFFIX}"


@dataclass(frozen=True)
class DeployedModel:
    engine: Engine
    name: str
    green: Relation  # being validated
    prod: Relation  # what prod readers use


def deployed_models(
    graph: UnifiedGraph, sqlmesh_environment: str, dbt_live_schema: str, dbt_slot: str
) -> list[DeployedModel]:
    """Every model of the graph with its green and prod relation."""
    green = green_environment(sqlmesh_environment)
    found = []
    for engine, name in graph.placement():
        if engine is Engine.SQLMESH:
            found.append(
                DeployedModel(engine, name, sqlmesh_view(name, green), sqlmesh_view(name, sqlmesh_environment))
            )
        else:
            table = dbt_table_of(graph, name)
            found.append(DeployedModel(engine, name, (dbt_slot, table), (dbt_live_schema, table)))
    return found


def dbt_table_of(graph: UnifiedGraph, name: str) -> str:
    """The table the dbt model `name` of the graph builds."""
    return dbt_table(name, graph.models_graph.relation_of((Engine.DBT, name)))
