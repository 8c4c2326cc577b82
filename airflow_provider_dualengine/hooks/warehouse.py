"""The warehouse (DuckDB or PostgreSQL) behind the project's Airflow connection: every SQL
statement of ours reaches it through here.

`WarehouseHook` (Airflow's common-sql `DbApiHook`) finds the connection wherever the
caller runs (`hooks/connections.get_connection`), turns it into a DuckDB file or PostgreSQL
parameters (`engines/connections.py`) and opens it; failing to connect raises
`WarehouseUnreachable` naming the connection and the place, never the password.
`Warehouse` is one open session: statements with bound parameters, rows, quoted names,
write transactions and read-only snapshots. It also wraps a cursor someone else opened
(SQLMesh's engine adapter during a promotion), so the same code runs on either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_dualengine.engines.connections import (
    POSTGRES_EXTRA,
    WarehouseUnreachable,
    connection_kind,
    dataset_namespace,
    duckdb_path,
    postgres_params,
)
from airflow_provider_dualengine.engines.redact import connection_secrets, redact
from airflow_provider_dualengine.engines.warehouse import PARAM, check_dialect, quote, render

__all__ = ["PARAM", "Warehouse", "WarehouseHook", "open_warehouse"]


class Warehouse:
    """An open session on the warehouse: a DB-API cursor and the dialect its SQL is written in.

    SQL text marks parameters with `PARAM`; names go in through `quote`."""

    def __init__(self, cursor: Any, dialect: str):
        self.cursor = cursor
        self.dialect = check_dialect(dialect)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        if params:
            self.cursor.execute(self.render(sql), list(params))
        else:
            self.cursor.execute(self.render(sql))

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[Any]:
        self.execute(sql, params)
        return self.fetchall()

    def render(self, sql: str) -> str:
        """The statement as the driver receives it (also what reports show)."""
        return render(sql, self.dialect)

    def quote(self, *parts: str) -> str:
        return quote(*parts, dialect=self.dialect)

    def table_exists(self, schema: str | None, table: str) -> bool:
        """Whether the table or view exists (no schema: in the connection's current one)."""
        where, params = (f"table_schema = {PARAM}", [schema]) if schema else ("table_schema = current_schema()", [])
        self.execute(
            f"SELECT count(*) FROM information_schema.tables WHERE {where} AND table_name = {PARAM}", [*params, table]
        )
        return self.fetchone()[0] > 0

    def list_tables(self, schema: str) -> list[str]:
        """Names of the tables and views in `schema`, sorted."""
        return [
            row[0]
            for row in self.rows(
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = {PARAM} ORDER BY 1", [schema]
            )
        ]

    def create_table_if_missing(self, schema: str, table: str, columns: str) -> None:
        """Our bookkeeping table (and its schema) when missing, in one transaction."""
        with self.transaction():
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}")
            self.execute(f"CREATE TABLE IF NOT EXISTS {self.quote(schema, table)} ({columns})")

    def row_count(self, schema: str, table: str) -> int:
        self.execute(f"SELECT count(*) FROM {self.quote(schema, table)}")
        return int(self.fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit on success, roll back on any error. Both warehouses have transactional DDL,
        so schema changes inside are all-or-nothing too. On PostgreSQL this also commits work
        the caller left pending on the connection (psycopg2 opens transactions implicitly)."""
        implicit = self.dialect == "postgres" and not self.cursor.connection.autocommit
        if not implicit:
            self.cursor.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._end(implicit, "ROLLBACK")
            raise
        self._end(implicit, "COMMIT")

    def begin_read_only(self) -> None:
        """Open a transaction that sees one snapshot and writes nothing; `end_read_only` rolls it back.

        PostgreSQL: REPEATABLE READ, READ ONLY (any write is refused). DuckDB has no
        read-only transactions; one rolled back at the end keeps the same guarantee."""
        if self.dialect == "duckdb":
            self.cursor.execute("BEGIN TRANSACTION")
        elif self.cursor.connection.autocommit:
            self.cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            from psycopg2.extensions import TRANSACTION_STATUS_IDLE

            if self.cursor.connection.get_transaction_status() != TRANSACTION_STATUS_IDLE:
                raise ValueError("check_contract needs a connection without an open transaction: it rolls its own back")
            self.cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def end_read_only(self) -> None:
        if self.dialect == "postgres" and not self.cursor.connection.autocommit:
            self.cursor.connection.rollback()
        else:
            self.cursor.execute("ROLLBACK")

    def _end(self, implicit: bool, verb: str) -> None:
        if implicit:
            getattr(self.cursor.connection, verb.lower())()
        else:
            self.cursor.execute(verb)


# Function forms of two questions, for callers that hold a session as a value.


class WarehouseHook(DbApiHook):
    """The project's warehouse: a DuckDB file or a PostgreSQL database.

    :param warehouse_conn_id: a `duckdb`, `postgres` or `sqlmesh` connection.
    :param connection: the connection itself, when the caller has looked it up already.
    """

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "dualengine_warehouse"
    hook_name = "Dual-engine warehouse"

    def __init__(self, warehouse_conn_id: str = default_conn_name, *, connection: Any = None, **kwargs: Any):
        super().__init__(**{self.conn_name_attr: warehouse_conn_id, "connection": connection, **kwargs})

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """Also finds connections stored in the metadata DB when run outside a task (our CLI)."""
        from airflow_provider_dualengine.hooks.connections import get_connection

        return get_connection(conn_id)

    @cached_property
    def dialect_name(self) -> str:
        """`duckdb` or `postgres`; raises UnsupportedWarehouse for any other connection type."""
        return connection_kind(self.connection)

    @property
    def placeholder(self) -> str:
        return "?" if self.dialect_name == "duckdb" else "%s"

    def get_conn(self) -> Any:
        """A new DB-API connection; WarehouseUnreachable when the warehouse cannot be reached."""
        conn, kind = self.connection, self.dialect_name
        connect = _duckdb_connect(duckdb_path(conn)) if kind == "duckdb" else _postgres_connect(postgres_params(conn))
        try:
            return connect()
        except ImportError as exc:
            raise WarehouseUnreachable(
                f"the {kind} driver is not installed ({exc}), so Airflow connection '{conn.conn_id}' cannot be used\n    fix: {POSTGRES_EXTRA}"
            ) from None
        except Exception as exc:  # the drivers raise their own types; all mean "cannot reach it"
            raise WarehouseUnreachable(unreachable_message(conn, kind, exc)) from None

    @contextmanager
    def session(self, autocommit: bool = False) -> Iterator[Warehouse]:
        """A session on a new connection, closed on exit. With `autocommit`, PostgreSQL runs
        statement by statement and writes open their own transaction (`Warehouse.transaction`)."""
        db = self.get_conn()
        try:
            if autocommit and self.dialect_name == "postgres":
                db.autocommit = True
            yield Warehouse(db.cursor(), self.dialect_name)
        finally:
            db.close()


def _duckdb_connect(path: str) -> Callable[[], Any]:
    def connect() -> Any:
        import duckdb

        # Same settings as SQLMesh and dbt-duckdb use: one process may not open a file twice differently.
        return duckdb.connect(path)

    return connect


def _postgres_connect(params: dict[str, Any]) -> Callable[[], Any]:
    def connect() -> Any:
        import psycopg2

        return psycopg2.connect(
            host=params["host"],
            port=params["port"],
            user=params["user"],
            password=params["password"],
            dbname=params["database"],
            connect_timeout=10,
        )

    return connect


@contextmanager
def open_warehouse(conn: Any, autocommit: bool = False) -> Iterator[Warehouse]:
    """A session on the warehouse behind an Airflow connection already looked up."""
    with WarehouseHook(conn.conn_id, connection=conn).session(autocommit) as warehouse:
        yield warehouse


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
