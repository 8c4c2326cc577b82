"""How SQL text for either warehouse (DuckDB, PostgreSQL) is written: names and parameters.

Nothing here connects; `hooks/warehouse.py` runs the statements. Identifiers are quoted by
one function, `quote`; values never reach SQL text: they are marked `PARAM` and travel as
bind parameters, the marker rendered in the driver's own style by `render`.
"""

from __future__ import annotations

DIALECTS = ("duckdb", "postgres")
# Marks a bind parameter in SQL text we build. A NUL character cannot occur in a name or
# an expression we write, so rendering it never touches anything else.
PARAM = "\x00"


def check_dialect(dialect: str) -> str:
    """`dialect` if this provider can talk to it; raises ValueError otherwise."""
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported dialect '{dialect}'; expected one of {DIALECTS}")
    return dialect


def quote(*parts: str, dialect: str) -> str:
    """`"schema"."table"`: each part one quoted identifier, so no name can end one."""
    from sqlglot import exp

    return ".".join(exp.to_identifier(part, quoted=True).sql(dialect=dialect) for part in parts)


def render(sql: str, dialect: str) -> str:
    """`sql` with every PARAM as the driver's marker (duckdb: ?, psycopg2: %s; psycopg2
    then also reads `%` in the text, so it is doubled)."""
    if PARAM not in sql:
        return sql
    if dialect == "duckdb":
        return sql.replace(PARAM, "?")
    return sql.replace("%", "%%").replace(PARAM, "%s")
