"""The warehouse (DuckDB or PostgreSQL) behind the project's Airflow connection: every SQL
statement of ours reaches it through here.

`WarehouseHook` (Airflow's common-sql `DbApiHook`) finds the connection wherever the
caller runs (`hooks/connections.get_connection`), turns it into a DuckDB file or PostgreSQL
parameters (`engines/connections.py`) and opens it; failing to connect raises
`WarehouseUnreachable` naming the connection and the place, never the password.

DuckDB lets one process hold a file read-write, and a read-only opener also takes a
(shared) lock that blocks writers. So every DuckDB open here, read-only or not, retries
while another process holds the file (a running pipeline task, usually) for up to
DUALENGINE_BUSY_WAIT_S seconds (10 by default), then raises `WarehouseBusy`. Read-only
sessions (`read_only=True`: the CLI's listing and diff verbs) open the file read-only and
are meant to be closed as soon as the rows are read; on PostgreSQL they are ordinary
sessions whose transactions are all READ ONLY.

`Warehouse` is one open session: statements with bound parameters, rows, quoted names,
write transactions and read-only snapshots. It also wraps a cursor someone else opened
(SQLMesh's engine adapter during a promotion), so the same code runs on either.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_dualengine.engines.connections import (
    POSTGRES_EXTRA,
    WarehouseConnectionError,
    WarehouseUnreachable,
    connect_duckdb_read_only,
    connection_kind,
    dataset_namespace,
    duckdb_path,
    postgres_params,
)
from airflow_provider_dualengine.engines.redact import connection_secrets, redact
from airflow_provider_dualengine.engines.warehouse import PARAM, check_dialect, quote, render

__all__ = ["PARAM", "Warehouse", "WarehouseBusy", "WarehouseHook", "open_warehouse"]

BUSY_WAIT_ENV = "DUALENGINE_BUSY_WAIT_S"
DEFAULT_BUSY_WAIT_S = 10.0
BUSY_RETRY_S = 0.25


class WarehouseBusy(WarehouseUnreachable):
    """Another process held DuckDB's writer lock on the warehouse file for longer than we waited."""


class Warehouse:
    """An open session on the warehouse: a DB-API cursor and the dialect its SQL is written in.

    SQL text marks parameters with `PARAM`; names go in through `quote`. A `read_only`
    session refuses writes (the warehouse does); it only says so to `create_table_if_missing`."""

    def __init__(self, cursor: Any, dialect: str, *, read_only: bool = False):
        self.cursor = cursor
        self.dialect = check_dialect(dialect)
        self.read_only = read_only

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
        """Our bookkeeping table (and its schema) when missing, in one transaction.

        A read-only session cannot create anything (even `IF NOT EXISTS` is refused): an
        existing table is fine, a missing one is an error the caller should have avoided."""
        if self.read_only:
            if not self.table_exists(schema, table):
                raise RuntimeError(
                    f"{schema}.{table} does not exist and this read-only session cannot create it: "
                    "check `table_exists` first, or open the warehouse read-write"
                )
            return
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
        """A new read-write DB-API connection (waiting while DuckDB's file is locked);
        WarehouseUnreachable when the warehouse cannot be reached, WarehouseBusy when locked too long."""
        return self.open_connection()

    def open_connection(self, *, read_only: bool = False, wait_s: float | None = None) -> Any:
        """A new DB-API connection, read-only if asked. On DuckDB, a file another process
        holds is retried every BUSY_RETRY_S for `wait_s` seconds (None: DUALENGINE_BUSY_WAIT_S,
        else 10), then WarehouseBusy; nothing is written by waiting."""
        conn, kind = self.connection, self.dialect_name
        if kind == "duckdb":
            patience = busy_wait_s() if wait_s is None else max(wait_s, 0.0)
            connect = _duckdb_connect(duckdb_path(conn), read_only, patience)
        else:
            connect = _postgres_connect(postgres_params(conn), read_only)
        try:
            return connect()
        except _LockHeld as held:
            raise WarehouseBusy(busy_message(conn, held.waited_s, held.holder)) from None
        except ImportError as exc:
            raise WarehouseUnreachable(
                f"the {kind} driver is not installed ({exc}), so Airflow connection '{conn.conn_id}' cannot be used\n    fix: {POSTGRES_EXTRA}"
            ) from None
        except Exception as exc:  # the drivers raise their own types; all mean "cannot reach it"
            raise WarehouseUnreachable(unreachable_message(conn, kind, exc, read_only=read_only)) from None

    @contextmanager
    def session(
        self, autocommit: bool = False, *, read_only: bool = False, wait_s: float | None = None
    ) -> Iterator[Warehouse]:
        """A session on a new connection, closed on exit. With `autocommit`, PostgreSQL runs
        statement by statement and writes open their own transaction (`Warehouse.transaction`).
        With `read_only`, nothing can be written; on DuckDB it still locks writers out while
        open, so read and leave. `wait_s`: how long to wait for a locked DuckDB file (`open_connection`)."""
        db = self.open_connection(read_only=read_only, wait_s=wait_s)
        try:
            if autocommit and self.dialect_name == "postgres":
                db.autocommit = True
            yield Warehouse(db.cursor(), self.dialect_name, read_only=read_only)
        finally:
            db.close()


def busy_wait_s() -> float:
    """Seconds to wait for a locked DuckDB file: DUALENGINE_BUSY_WAIT_S, else DEFAULT_BUSY_WAIT_S."""
    raw = os.environ.get(BUSY_WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_BUSY_WAIT_S
    try:
        seconds = float(raw)
        if not math.isfinite(seconds):
            raise ValueError(raw)
    except ValueError:
        raise WarehouseConnectionError(
            f"environment variable {BUSY_WAIT_ENV} is {raw!r}, not a number of seconds\n"
            f"    fix: set it to how long to wait for a busy DuckDB warehouse file, e.g. {BUSY_WAIT_ENV}=30, or unset it ({DEFAULT_BUSY_WAIT_S:g} s)"
        ) from None
    return max(seconds, 0.0)


class _LockHeld(Exception):
    """DuckDB's file lock was still held by another process when the wait ran out."""

    def __init__(self, waited_s: float, holder: str | None):
        super().__init__(waited_s, holder)
        self.waited_s = waited_s
        self.holder = holder


def _duckdb_connect(path: str, read_only: bool, wait_s: float) -> Callable[[], Any]:
    def connect() -> Any:
        import duckdb

        started = time.monotonic()
        while True:
            try:
                return _duckdb_open(duckdb, path, read_only)
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                waited = time.monotonic() - started
                if not is_lock_conflict(exc):
                    raise
                if waited >= wait_s:
                    raise _LockHeld(waited, lock_holder(exc)) from None
                time.sleep(min(BUSY_RETRY_S, wait_s - waited))

    return connect


def _duckdb_open(duckdb: Any, path: str, read_only: bool) -> Any:
    if not read_only:
        # Same settings as SQLMesh and dbt-duckdb use: one process may not open a file twice differently.
        return duckdb.connect(path)
    return connect_duckdb_read_only(path)


def is_lock_conflict(exc: BaseException) -> bool:
    """DuckDB's "Could not set lock on file ...: Conflicting lock is held in ... (PID n)".

    The quoted file name is left out, so a folder called `lock` is not mistaken for one."""
    return re.search(r"\block\b", re.sub(r'"[^"]*"', '""', str(exc)), re.IGNORECASE) is not None


def lock_holder(exc: BaseException) -> str | None:
    """`PID 1234` of the process DuckDB says holds the lock, when it says."""
    found = re.search(r"\(PID (\d+)\)", str(exc))
    return f"PID {found.group(1)}" if found else None


def busy_message(conn: Any, waited_s: float, holder: str | None = None) -> str:
    """Which connection and file, who holds it, how long we waited, and what to do."""
    who = f"another process ({holder})" if holder else "another process"
    return (
        f"the warehouse of Airflow connection '{conn.conn_id}' is busy: {who} holds DuckDB's single writer lock "
        f"on {duckdb_path(conn)} (usually a running pipeline task); waited {waited_s:.1f} s for it\n"
        f"    fix: try again when it finishes; nothing was changed (wait longer with {BUSY_WAIT_ENV}=<seconds>)"
    )


def _postgres_connect(params: dict[str, Any], read_only: bool) -> Callable[[], Any]:
    def connect() -> Any:
        import psycopg2

        db = psycopg2.connect(
            host=params["host"],
            port=params["port"],
            user=params["user"],
            password=params["password"],
            dbname=params["database"],
            connect_timeout=10,
        )
        if read_only:
            try:
                _make_read_only(db)
            except BaseException:
                db.close()
                raise
        return db

    return connect


def _make_read_only(db: Any) -> None:
    """Every later transaction of the session READ ONLY: a session setting, so it holds for
    explicit BEGINs and for autocommit statements alike; committed so a rollback cannot undo it."""
    with db.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    db.commit()


@contextmanager
def open_warehouse(conn: Any, autocommit: bool = False, *, read_only: bool = False) -> Iterator[Warehouse]:
    """A session on the warehouse behind an Airflow connection already looked up
    (`read_only`: see `WarehouseHook.session`)."""
    with WarehouseHook(conn.conn_id, connection=conn).session(autocommit, read_only=read_only) as warehouse:
        yield warehouse


def unreachable_message(conn: Any, kind: str, exc: BaseException, *, read_only: bool = False) -> str:
    """One paragraph: which connection, where it points (no credentials), the driver's own
    words, and what usually fixes it."""
    detail = redact(" ".join(str(exc).split()), connection_secrets(conn))[:500]
    if kind == "duckdb" and is_lock_conflict(exc):
        fix = "another process (a running pipeline task, or another CLI) holds the DuckDB file; wait for it to finish and retry"
    elif kind == "duckdb" and read_only:
        fix = "check the connection's host field: it must be the path of the DuckDB file; this read-only command does not create it (the first pipeline task does)"
    elif kind == "duckdb":
        fix = "check the connection's host field: it must be the path of the DuckDB file, in a folder that exists and is writable"
    else:
        fix = "check host, port, database (schema field), login and password of the connection, and that the server accepts connections"
    return f"cannot connect to the warehouse of Airflow connection '{conn.conn_id}' ({dataset_namespace(conn)}): {type(exc).__name__}: {detail}\n    fix: {fix}"
