"""Read-only questions to the warehouse (row counts, relations) for summaries and checks.

Identifiers are always quoted; values never reach SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_dualengine.engines.connections import connection_kind, duckdb_path, postgres_params


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def warehouse_cursor(conn: Any) -> Iterator[Any]:
    """A DB-API cursor on the warehouse behind an Airflow connection, closed on exit."""
    if connection_kind(conn) == "duckdb":
        import duckdb

        # Same settings as SQLMesh and dbt-duckdb use: one process may not open a file twice differently.
        db = duckdb.connect(duckdb_path(conn))
    else:
        import psycopg2

        params = postgres_params(conn)
        db = psycopg2.connect(host=params["host"], port=params["port"], user=params["user"], password=params["password"], dbname=params["database"])
    try:
        yield db.cursor()
    finally:
        db.close()


def row_count(cursor: Any, schema: str, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}")
    return int(cursor.fetchone()[0])


def relations_in_schema(cursor: Any, schema: str) -> list[str]:
    placeholder = "?" if "duckdb" in type(cursor).__module__ else "%s"
    cursor.execute(f"SELECT table_name FROM information_schema.tables WHERE table_schema = {placeholder} ORDER BY 1", [schema])
    return [row[0] for row in cursor.fetchall()]


def placeholder(dialect: str) -> str:
    """The DB-API parameter marker of the warehouse driver (duckdb: ?, psycopg2: %s)."""
    return "?" if dialect == "duckdb" else "%s"


@contextmanager
def transaction(cursor: Any, dialect: str) -> Iterator[None]:
    """Commit on success, roll back on any error. Both warehouses have transactional DDL,
    so schema changes inside are all-or-nothing too. On PostgreSQL this also commits work
    the caller left pending on the connection (psycopg2 opens transactions implicitly)."""
    implicit = dialect == "postgres" and not cursor.connection.autocommit
    if not implicit:
        cursor.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        _end_transaction(cursor, implicit, "ROLLBACK")
        raise
    _end_transaction(cursor, implicit, "COMMIT")


def _end_transaction(cursor: Any, implicit: bool, verb: str) -> None:
    if implicit:
        getattr(cursor.connection, verb.lower())()
    else:
        cursor.execute(verb)


def relation_exists(cursor: Any, dialect: str, relation: str) -> bool:
    """Whether a quoted `"schema"."name"` table or view exists (parsed with sqlglot, bound as values)."""
    from sqlglot import exp

    table = exp.to_table(relation, dialect=dialect)
    m = placeholder(dialect)
    schema, params = (m, [table.db]) if table.db else ("current_schema()", [])
    cursor.execute(f"SELECT count(*) FROM information_schema.tables WHERE table_schema = {schema} AND table_name = {m}", [*params, table.name])
    return cursor.fetchone()[0] > 0
