"""What each model reading a contracted producer takes from it, in either engine.

The columns come from the compiled artifact (`CatalogModel.columns_read`: the columns a
model's SQL uses per input, filters and joins included; SQLMesh's rendered query, dbt's
compiled SQL). A consumer whose use is unknown (a Python model, a dbt project that does
not compile without a warehouse) is reported as such rather than silently trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_dualengine.engines.column_reads import STAR
from airflow_provider_dualengine.graph import Engine, UnifiedGraph

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.contracts import ContractModel
    from airflow_provider_dualengine.engines.catalog import CatalogModel

NodeKey = tuple[Engine, str]
Finding = tuple[str, str, str, str]  # key, severity, message, hint


@dataclass(frozen=True)
class ConsumerRead:
    consumer: str  # `engine:model`
    columns: frozenset[str] | None  # lower case; None: unknown
    why_unknown: str = ""


def consumer_reads(
    graph: UnifiedGraph,
    models: dict[NodeKey, CatalogModel],
    dbt_base_schema: str | None,
    dbt_problem: str | None = None,
) -> dict[NodeKey, list[ConsumerRead]]:
    """Producer -> one entry per model that reads it directly (the graph's edges)."""
    owners = _table_owners(graph, dbt_base_schema)
    pairs = sorted({(e.upstream, e.downstream) for e in graph.models_graph.edges}, key=lambda p: (p[0][1], p[1][1]))
    reads: dict[NodeKey, list[ConsumerRead]] = {}
    for producer, consumer in pairs:
        reads.setdefault(producer, []).append(_read(producer, consumer, models.get(consumer), owners, dbt_problem))
    return reads


def _read(
    producer: NodeKey,
    consumer: NodeKey,
    model: CatalogModel | None,
    owners: dict[str, NodeKey],
    dbt_problem: str | None,
) -> ConsumerRead:
    name = f"{consumer[0].value}:{consumer[1]}"
    if model is None or model.columns_read is None:
        return ConsumerRead(name, None, _why_unknown(consumer, model, dbt_problem))
    columns = [
        column for source, used in model.columns_read.items() if _owner(source, owners) == producer for column in used
    ]
    if not columns and not any(_owner(source, owners) == producer for source in model.columns_read):
        return ConsumerRead(name, None, f"its SQL names no table that is {producer[1]}")
    return ConsumerRead(name, frozenset(c.lower() for c in columns))


def _why_unknown(consumer: NodeKey, model: CatalogModel | None, dbt_problem: str | None) -> str:
    if model is not None and model.path is not None and model.path.suffix == ".py":
        return "it is a Python model, so there is no SQL to read its column use from"
    if consumer[0] is Engine.DBT and dbt_problem:
        return dbt_problem
    return "the compiled artifact records no column use for it (a query sqlglot cannot follow, see `dualengine compile`'s warnings, or an artifact compiled by an older provider)"


def _owner(source: str, owners: dict[str, NodeKey]) -> NodeKey | None:
    """The model behind an input key of `columns_read`."""
    kind, _, name = source.partition(":")
    if kind == "sqlmesh":
        return (Engine.SQLMESH, name)
    if kind == "dbt":
        return (Engine.DBT, name)
    return owners.get(name.lower())


def _table_owners(graph: UnifiedGraph, dbt_base_schema: str | None) -> dict[str, NodeKey]:
    """`schema.table` (prod names) -> the model that writes it: how a dbt source or a
    SQLMesh model names the other engine's table."""
    owners: dict[str, NodeKey] = {}
    for (engine, name), node in graph.models_graph.nodes.items():
        if engine is Engine.SQLMESH:
            owners[name.lower()] = (engine, name)
        elif node.relation:
            owners[node.relation.lower()] = (engine, name)
            if dbt_base_schema:
                owners[f"{dbt_base_schema}.{node.relation.split('.')[-1]}".lower()] = (engine, name)
    return owners


def consumer_findings(spec: ContractModel, producer: NodeKey, reads: list[ConsumerRead]) -> list[Finding]:
    """Unpromised columns read (a warning; an error when the contract is closed), deprecated
    ones still read, and consumers whose use cannot be known."""
    found: list[Finding] = []
    closed = " (the contract is closed)" if spec.closed else ""
    for read in reads:
        if read.columns is None:
            found.append(
                (
                    "consumers",
                    "warning",
                    f"cannot tell which columns {read.consumer} reads from {producer[1]}: {read.why_unknown}",
                    "",
                )
            )
            continue
        if STAR in read.columns:
            found.append(
                (
                    "consumers",
                    "warning",
                    f"{read.consumer} selects every column of {producer[1]} (*), so it may read columns the contract does not promise",
                    f"select the columns {read.consumer} needs by name",
                )
            )
        for name in sorted(read.columns - {STAR}):
            promised = spec.column(name)
            if promised is None:
                found.append(
                    (
                        "columns",
                        "error" if spec.closed else "warning",
                        f"consumer {read.consumer} reads column '{name}', which the contract does not promise{closed}",
                        f"add '{name}' to the contract, or stop reading it in {read.consumer}",
                    )
                )
            elif promised.deprecated:
                found.append(
                    (
                        "columns",
                        "warning",
                        f"consumer {read.consumer} still reads deprecated column '{name}'",
                        f"move {read.consumer} off '{name}' before it is removed",
                    )
                )
    return found
