"""Relations as (schema, table) parts, the only form names take in deployments.

Names travel and are stored as parts; SQL text is made from them only where a statement is
built (`Warehouse.quote`, one quoted identifier per part), so no name - however odd - can
end an identifier.
"""

from __future__ import annotations

Relation = tuple[str, ...]  # (schema, table), or (table,) in the connection's current schema


def shown(relation: Relation) -> str:
    """The relation for people: `schema.table`."""
    return ".".join(relation)
