"""Order-independent checksums of relations: row count + sum of per-row hashes.

Used to prove a promotion or rollback left prod fully old or fully new (never mixed) and
to validate that a rollback restored prod exactly. `relations` are quoted names
(`"staging"."orders"`) as the promotion works with them.
"""

from __future__ import annotations

from typing import Any

_SQL = {
    "duckdb": "SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM {rel} AS t",
    "postgres": "SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text FROM {rel} AS t",
}


def checksum(cursor: Any, dialect: str, relation: str) -> list[Any]:
    """[row count, digest] of a relation (a quoted, possibly schema-qualified name)."""
    cursor.execute(_SQL[dialect].format(rel=relation))
    count, digest = cursor.fetchone()
    return [int(count), str(digest)]


def checksums(cursor: Any, dialect: str, relations: list[str]) -> dict[str, list[Any] | None]:
    """Checksum per relation; None for a relation that does not exist (yet)."""
    from airflow_provider_dualengine.engines.warehouse import relation_exists

    return {rel: checksum(cursor, dialect, rel) if relation_exists(cursor, dialect, rel) else None for rel in relations}
