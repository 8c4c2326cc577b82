"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["duckdb", "postgres"])
def db_connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(dialect, connect) on a fresh database; connect() opens a new DB-API connection."""
    if request.param == "duckdb":
        import duckdb

        path = str(tmp_path / "shop.duckdb")
        yield "duckdb", lambda: duckdb.connect(path)
        return
    import psycopg2

    server, dbname = request.getfixturevalue("postgres_database")
    yield (
        "postgres",
        lambda: psycopg2.connect(
            host=server.host, port=server.port, user=server.user, password=server.password, dbname=dbname
        ),
    )
