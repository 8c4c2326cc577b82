"""Relations as (schema, table) parts, the only form names take in deployments.

Names travel and are stored as parts; SQL text is made from them only where a statement is
built, one quoted identifier per part, so no name - however odd - can end an identifier.
"""

from __future__ import annotations

from airflow_provider_dualengine.engines.warehouse import quote_ident

Relation = tuple[str, ...]  # (schema, table), or (table,) in the connection's current schema


def sql_name(relation: Relation) -> str:
    """The relation as quoted SQL: `"schema"."table"`."""
    return ".".join(quote_ident(part) for part in relation)


def shown(relation: Relation) -> str:
    """The relation for people: `schema.table`."""
    return ".".join(relation)
