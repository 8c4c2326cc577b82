"""Which warehouse errors are transient: the messages DuckDB and PostgreSQL really give.

The literal messages below were printed by duckdb 1.x and psycopg2 against PostgreSQL 15;
the slow tests at the end make both warehouses produce them again, so a driver that
changes its wording fails here rather than in a pipeline.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.engines.transient import all_transient, is_transient

DUCKDB_LOCK = (
    'IO Error: Could not set lock on file "/data/shop.duckdb": Conflicting lock is held in '
    "/usr/bin/python3.11 (PID 7441). See also https://duckdb.org/docs/stable/connect/concurrency"
)
TRANSIENT = {
    "duckdb lock": DUCKDB_LOCK,
    "duckdb lock, as dbt reports it": f"Runtime Error in model orders (models/orders.sql)\n  {DUCKDB_LOCK}",
    "duckdb lock, as SQLMesh's outcome records it": f"IOException: {DUCKDB_LOCK}",
    "pg serialization": "could not serialize access due to concurrent update\n",
    "pg serialization, read/write dependencies": "could not serialize access due to read/write dependencies among transactions",
    "pg deadlock": (
        "deadlock detected\nDETAIL:  Process 7670 waits for ShareLock on transaction 729; blocked by process 7669.\n"
        "Process 7669 waits for ShareLock on transaction 730; blocked by process 7670.\n"
    ),
    "pg connection dropped": (
        "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
        "\tbefore or while processing the request.\n"
    ),
    "pg connection used after the drop": "connection already closed",
    "pg server restart": "terminating connection due to administrator command\nserver closed the connection unexpectedly",
    "pg server starting": 'connection to server at "db" (10.0.0.5), port 5432 failed: FATAL:  the database system is starting up',
    "pg refused (libpq >= 14)": (
        'connection to server at "127.0.0.1", port 58475 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?\n"
    ),
    "pg refused (older libpq)": "could not connect to server: Connection refused\n\tIs the server running on host",
    "pg socket gone": 'connection to server on socket "/tmp/.s.PGSQL.5432" failed: No such file or directory',
    "upper case": "DEADLOCK DETECTED",
}
NOT_TRANSIENT = {
    "duckdb binder error": 'Binder Error: Referenced column "no_such_column" not found in FROM clause!',
    "duckdb constraint": "Constraint Error: NOT NULL constraint failed: t.a",
    "pg syntax error": 'syntax error at or near "selec"\nLINE 1: selec 1\n',
    "pg unique violation": 'duplicate key value violates unique constraint "t_pkey"\nDETAIL:  Key (id)=(1) already exists.',
    "pg undefined column": 'column "no_col" does not exist\nLINE 1: select no_col from t\n',
    "pg wrong password": (
        'connection to server at "127.0.0.1", port 58475 failed: FATAL:  password authentication failed for user "x"'
    ),
    "pg wrong password, after a refused ::1": (
        'connection to server at "localhost" (::1), port 5432 failed: Connection refused\n'
        'connection to server at "localhost" (127.0.0.1), port 5432 failed: FATAL:  password authentication failed'
    ),
    "pg unknown database": 'connection to server at "127.0.0.1", port 58475 failed: FATAL:  database "nosuchdb" does not exist',
    "dbt test failure": "Got 1 result, configured to fail if != 0",
    "a blocked deployment": "DEPLOYMENT BLOCKED: integration validation failed: row_count of shop.orders",
    "a column named after locks": "column deadlock_count and lock_wait_s: values out of range",
    "lock inside a word": 'Parser Error: syntax error at or near "block"',
    "nothing": "",
}


@pytest.mark.parametrize("message", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_lock_serialization_and_connection_errors_are_transient(message: str) -> None:
    assert is_transient(message)


@pytest.mark.parametrize("message", NOT_TRANSIENT.values(), ids=NOT_TRANSIENT.keys())
def test_errors_of_the_sql_the_data_or_the_login_are_not(message: str) -> None:
    assert not is_transient(message)


def test_an_exception_is_transient_through_what_it_was_raised_from() -> None:
    try:
        try:
            raise OSError(DUCKDB_LOCK)
        except OSError as exc:
            raise RuntimeError("dbt build did not run") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    # raised while handling a lock error, but not from it: its own cause could be anything
    try:
        try:
            raise OSError(DUCKDB_LOCK)
        except OSError:
            raise ValueError("profile 'shop' has no target 'dev'") from None
    except ValueError as unrelated:
        assert not is_transient(unrelated)
    assert not is_transient(None)


def test_all_transient_needs_every_error_transient_and_at_least_one() -> None:
    assert all_transient([DUCKDB_LOCK, "deadlock detected"])
    assert not all_transient([DUCKDB_LOCK, NOT_TRANSIENT["duckdb binder error"]])
    assert not all_transient([])
    assert not all_transient([None])


# --- the warehouses themselves ---------------------------------------------------------


def _error_of(action: Any) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("the warehouse did not refuse")


@pytest.mark.slow
def test_duckdb_says_its_file_is_locked_in_words_we_recognise(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "shop.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        locked = _error_of(lambda: duckdb.connect(str(path)))
        read_only = _error_of(lambda: duckdb.connect(str(path), read_only=True))
    finally:
        holder.kill()
        holder.wait()
    assert is_transient(locked) and is_transient(read_only), (locked, read_only)
    with duckdb.connect(str(path)) as con:  # the holder is gone: the same connect succeeds
        assert not is_transient(_error_of(lambda: con.execute("select no_such_column from range(1)")))


@pytest.mark.slow
def test_postgresql_says_serialization_deadlock_and_dropped_connection_in_words_we_recognise(
    postgres_database: tuple[Any, str],
) -> None:
    import psycopg2

    server, dbname = postgres_database
    a, b = server.connect(dbname), server.connect(dbname)
    try:
        with a.cursor() as cur:
            cur.execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)")
        a.commit()
        ca, cb = a.cursor(), b.cursor()
        b.set_session(isolation_level="REPEATABLE READ")
        cb.execute("SELECT * FROM t")
        ca.execute("UPDATE t SET v = 1 WHERE id = 1")
        a.commit()
        serialization = _error_of(lambda: cb.execute("UPDATE t SET v = 2 WHERE id = 1"))
        b.rollback()
        b.set_session(isolation_level="READ COMMITTED")

        ca.execute("UPDATE t SET v = 3 WHERE id = 1")
        cb.execute("UPDATE t SET v = 3 WHERE id = 2")
        errors: list[BaseException] = []

        def crosswise() -> None:
            try:
                ca.execute("UPDATE t SET v = 4 WHERE id = 2")
            except Exception as exc:
                errors.append(exc)

        other = threading.Thread(target=crosswise)
        other.start()
        time.sleep(0.2)
        try:
            cb.execute("UPDATE t SET v = 4 WHERE id = 1")
        except Exception as exc:
            errors.append(exc)
        other.join()
        a.rollback()
        b.rollback()
        [deadlock] = errors  # PostgreSQL aborts one of the two, the other goes on

        ca.execute("SELECT pg_terminate_backend(%s)", [b.get_backend_pid()])
        a.commit()
        dropped = _error_of(lambda: cb.execute("SELECT 1"))
        syntax = _error_of(lambda: ca.execute("SELEC 1"))
        a.rollback()
        duplicate = _error_of(lambda: ca.execute("INSERT INTO t VALUES (1, 0)"))
        a.rollback()
    finally:
        a.close()
        b.close()
    wrong_password = _error_of(
        lambda: psycopg2.connect(host=server.host, port=server.port, user=server.user, password="wrong", dbname=dbname)
    )
    for error in (serialization, deadlock, dropped):
        assert is_transient(error), error
    for error in (syntax, duplicate, wrong_password):
        assert not is_transient(error), error
