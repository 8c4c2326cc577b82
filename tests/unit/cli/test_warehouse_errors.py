"""The warehouse connection missing, of an unsupported type, or unreachable (kind 4), in
every CLI verb that uses it: one message naming the connection and the fix, exit 1."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.unit.cli._corpus import assert_clean_failure, run_cli

CONN_ENV = "AIRFLOW_CONN_DUALENGINE_WAREHOUSE"

VERBS = {
    "deployments": ("deployments", "{P}"),
    "rollback": ("rollback", "{P}", "-e", "production"),
    "contracts diff --against-prod": ("contracts", "diff", "{P}", "--against-prod"),
}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONNECTIONS = {
    "missing": (
        None,
        (
            "error: Airflow connection 'dualengine_warehouse' not found. Looked in: environment variable AIRFLOW_CONN_DUALENGINE_WAREHOUSE",
            "fix: create it, e.g. `airflow connections add dualengine_warehouse --conn-type duckdb",
        ),
    ),
    "unsupported type": (
        {"conn_type": "http", "host": "example.org"},
        (
            "error: Airflow connection 'dualengine_warehouse' has type 'http', which is not a warehouse this provider can use; supported types: duckdb (file path in host), postgres",
        ),
    ),
    "unreachable duckdb": (
        {"conn_type": "duckdb", "host": "/nonexistent/warehouse/shop.duckdb"},
        (
            "error: cannot connect to the warehouse of Airflow connection 'dualengine_warehouse' (duckdb:///nonexistent/warehouse/shop.duckdb): IOException:",
            "fix: check the connection's host field: it must be the path of the DuckDB file",
        ),
    ),
}

EXTRA = {
    ("deployments", "unreachable postgres"): (
        {
            "conn_type": "postgres",
            "host": "127.0.0.1",
            "port": "{port}",
            "schema": "shop",
            "login": "dualengine",
            "password": "s3cret-pw",
        },
        (
            "error: cannot connect to the warehouse of Airflow connection 'dualengine_warehouse' (postgres://127.0.0.1:{port}): OperationalError:",
            "fix: check host, port, database (schema field), login and password",
        ),
    ),
    ("rollback", "duckdb without a file"): (
        {"conn_type": "duckdb"},
        ("error: DuckDB connection 'dualengine_warehouse' has no database file in its host field",),
    ),
    ("contracts diff --against-prod", "postgres without a database"): (
        {"conn_type": "postgres", "host": "127.0.0.1"},
        ("error: Postgres connection 'dualengine_warehouse' needs host and schema (the database name)",),
    ),
}

CASES = {(verb, name): spec for verb in VERBS for name, spec in CONNECTIONS.items()} | EXTRA


@pytest.mark.parametrize(("verb", "connection"), sorted(CASES), ids=[f"{v}: {c}" for v, c in sorted(CASES)])
def test_warehouse_connection_problem_is_one_clear_error(
    verb: str, connection: str, project_copy: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, expected = CASES[(verb, connection)]
    port = str(_closed_port())
    if conn is None:
        monkeypatch.delenv(CONN_ENV, raising=False)
    else:
        monkeypatch.setenv(
            CONN_ENV, json.dumps({k: (v.format(port=port) if isinstance(v, str) else v) for k, v in conn.items()})
        )
    code, _, err = run_cli(capsys, *(a.format(P=project_copy) for a in VERBS[verb]))
    assert_clean_failure(code, err, *(e.format(port=port) for e in expected))
    assert "s3cret-pw" not in err
