"""Order-independent checksums of relations: row count + sum of per-row hashes.

Used to prove a promotion or rollback left prod fully old or fully new (never mixed) and
to validate that a rollback restored prod exactly. Relations are (schema, table) parts,
quoted by the warehouse session; a record stores checksums as a list of {relation,
checksum}, never as names that could be read back into SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_dualengine.deployments.relations import Relation
from airflow_provider_dualengine.hooks.warehouse import Warehouse

_SQL = {
    "duckdb": "SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM {rel} AS t",
    "postgres": "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text FROM {rel} AS t",
}

Checksums = dict[Relation, list[Any] | None]


def checksum(warehouse: Warehouse, relation: Relation) -> list[Any]:
    """[row count, digest] of a relation."""
    warehouse.execute(_SQL[warehouse.dialect].format(rel=warehouse.quote(*relation)))
    count, digest = warehouse.fetchone()
    return [int(count), str(digest)]


def checksums(warehouse: Warehouse, relations: Iterable[Relation]) -> Checksums:
    """Checksum per relation; None for a relation that does not exist (yet)."""
    return {
        tuple(rel): checksum(warehouse, tuple(rel)) if _exists(warehouse, tuple(rel)) else None for rel in relations
    }


def _exists(warehouse: Warehouse, relation: Relation) -> bool:
    *schema, table = relation
    return warehouse.table_exists(schema[0] if schema else None, table)


def as_record(sums: Checksums) -> list[dict[str, Any]]:
    """Checksums as stored in a deployment record."""
    return [{"relation": list(rel), "checksum": value} for rel, value in sums.items()]
