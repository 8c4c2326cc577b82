"""pytest fixtures for a real PostgreSQL server (see tests/pg_server.py).

Import them into a conftest:  from tests.pg_fixtures import postgres_server, postgres_database

- postgres_server (session): one private cluster for the whole run, started on first
  use (about 1.5 s) and stopped at the end of the session.
- postgres_database (function): a fresh, empty database on that server per test,
  dropped afterwards; yields (server, dbname).

If the PostgreSQL server binaries are missing the fixture fails (it does not skip):
CI must run these tests, so a missing server is an environment error to see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_server import PostgresServer, PostgresServerError


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
    except PostgresServerError as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[tuple[PostgresServer, str]]:
    dbname = postgres_server.create_database()
    try:
        yield postgres_server, dbname
    finally:
        postgres_server.drop_database(dbname)
