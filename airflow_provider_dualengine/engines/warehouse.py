"""Read-only questions to the warehouse (row counts, relations) for summaries and checks.

Identifiers are always quoted; values never reach SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_provider_dualengine.engines.connections import (
    POSTGRES_EXTRA,
    WarehouseUnreachable,
    connection_kind,
    dataset_namespace,
    duckdb_path,
    postgres_params,
)
from airflow_provider_dualengine.engines.redact import connection_secrets, redact


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def warehouse_cursor(conn: Any) -> Iterator[Any]:
    """A DB-API cursor on the warehouse behind an Airflow connection, closed on exit.

    Failing to connect raises WarehouseUnreachable naming the connection and the place,
    never the password."""
    kind = connection_kind(conn)
    try:
        if kind == "duckdb":
            import duckdb

            # Same settings as SQLMesh and dbt-duckdb use: one process may not open a file twice differently.
            db = duckdb.connect(duckdb_path(conn))
        else:
            import psycopg2

            params = postgres_params(conn)
            db = psycopg2.connect(
                host=params["host"],
                port=params["port"],
                user=params["user"],
                password=params["password"],
                dbname=params["database"],
                connect_timeout=10,
            )
    except ImportError as exc:
        raise WarehouseUnreachable(
            f"the {kind} driver is not installed ({exc}), so Airflow connection '{conn.conn_id}' cannot be used\n    fix: {POSTGRES_EXTRA}"
        ) from None
    except Exception as exc:  # the drivers raise their own types; all mean "cannot reach it"
        raise WarehouseUnreachable(unreachable_message(conn, kind, exc)) from None
    try:
        yield db.cursor()
    finally:
        db.close()


def unreachable_message(conn: Any, kind: str, exc: BaseException) -> str:
    """One paragraph: which connection, where it points (no credentials), the driver's own
    words, and what usually fixes it."""
    detail = redact(" ".join(str(exc).split()), connection_secrets(conn))[:500]
    if kind == "duckdb" and "lock" in detail.lower():
        fix = "another process (a running pipeline task, or another CLI) holds the DuckDB file; wait for it to finish and retry"
    elif kind == "duckdb":
        fix = "check the connection's host field: it must be the path of the DuckDB file, in a folder that exists and is writable"
    else:
        fix = "check host, port, database (schema field), login and password of the connection, and that the server accepts connections"
    return f"cannot connect to the warehouse of Airflow connection '{conn.conn_id}' ({dataset_namespace(conn)}): {type(exc).__name__}: {detail}\n    fix: {fix}"


def row_count(cursor: Any, schema: str, table: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}")
    return int(cursor.fetchone()[0])


def relations_in_schema(cursor: Any, schema: str) -> list[str]:
    placeholder = "?" if "duckdb" in type(cursor).__module__ else "%s"
    cursor.execute(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = {placeholder} ORDER BY 1", [schema]
    )
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
    """Whether a quoted `"schema"."name"` table or view exists (parsed with sqlglot)."""
    from sqlglot import exp

    table = exp.to_table(relation, dialect=dialect)
    return table_exists(cursor, dialect, table.db or None, table.name)


def table_exists(cursor: Any, dialect: str, schema: str | None, table: str) -> bool:
    """Whether the table or view exists (names bound as values; no schema: the current one)."""
    m = placeholder(dialect)
    where, params = (f"table_schema = {m}", [schema]) if schema else ("table_schema = current_schema()", [])
    cursor.execute(
        f"SELECT count(*) FROM information_schema.tables WHERE {where} AND table_name = {m}", [*params, table]
    )
    return cursor.fetchone()[0] > 0
