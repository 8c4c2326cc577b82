"""Warehouse settings taken from an Airflow connection, per engine.

Credentials live in Airflow (connections or a secrets backend); these helpers turn a
connection into each engine's connection object and into Asset URIs, at task run time
only. Accepted: `duckdb` (file in `host`), `postgres`, and our `sqlmesh` type, whose
`engine` extra says which of the two it is.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

# What to install when a PostgreSQL library (psycopg2, dbt-postgres) is missing.
POSTGRES_EXTRA = "pip install 'airflow-provider-dualengine[postgres]'"


class WarehouseConnectionError(Exception):
    """The warehouse connection is missing, of a type we cannot use, or unreachable.

    The message is written for the person at the terminal or in the task log: which
    connection, what is wrong, what to do. It never carries credentials."""


class UnsupportedWarehouse(WarehouseConnectionError, ValueError):
    pass


class WarehouseConnectionNotFound(WarehouseConnectionError, LookupError):
    pass


class WarehouseUnreachable(WarehouseConnectionError):
    pass


def conn_extra(conn: Any, key: str) -> Any:
    """An extra field, stored plain (`engine`) or with the UI prefix (`extra__sqlmesh__engine`)."""
    extra = conn.extra_dejson or {}
    return extra.get(key, extra.get(f"extra__{conn.conn_type}__{key}"))


def connection_kind(conn: Any) -> str:
    kind = (conn.conn_type or "").lower()
    if kind == "sqlmesh":
        kind = (conn_extra(conn, "engine") or "duckdb").lower()
    if kind in {"postgres", "postgresql"}:
        return "postgres"
    if kind == "duckdb":
        return "duckdb"
    raise UnsupportedWarehouse(
        f"Airflow connection '{conn.conn_id}' has type '{conn.conn_type}', which is not a warehouse this provider can use; "
        "supported types: duckdb (file path in host), postgres, sqlmesh (with the engine extra). "
        f"Fix: airflow connections delete {conn.conn_id} && airflow connections add {conn.conn_id} --conn-type duckdb --conn-host /path/to/warehouse.duckdb"
    )


def duckdb_path(conn: Any) -> str:
    """DuckDB connections keep the database file in `host` (the Cosmos/duckdb provider convention)."""
    path = conn.host or conn_extra(conn, "path")
    if not path:
        raise UnsupportedWarehouse(f"DuckDB connection '{conn.conn_id}' has no database file in its host field")
    return path


def postgres_params(conn: Any) -> dict[str, Any]:
    if not conn.host or not conn.schema:
        raise UnsupportedWarehouse(f"Postgres connection '{conn.conn_id}' needs host and schema (the database name)")
    return {
        "host": conn.host,
        "port": int(conn.port or 5432),
        "user": conn.login,
        "password": conn.password or "",
        "database": conn.schema,
    }


def dataset_namespace(conn: Any) -> str:
    """`postgres://host:port` or `duckdb://<file as written in the connection>`; never credentials.
    The namespace OpenLineage's dbt integration (used by Cosmos) gives the same warehouse."""
    if connection_kind(conn) == "duckdb":
        return f"duckdb://{duckdb_path(conn)}"
    params = postgres_params(conn)
    return f"postgres://{params['host']}:{params['port']}"


def database_name(conn: Any) -> str:
    """The catalog dbt puts in its manifest (`database`) for this connection.

    Postgres: the database (`schema` field of the connection). DuckDB: the catalog DuckDB
    derives from the file name, as dbt-duckdb does: first non-empty dot-separated part of
    the base name (`shop.duckdb` -> `shop`), `memory` for an in-memory database.
    """
    if connection_kind(conn) == "postgres":
        return postgres_params(conn)["database"]
    path = duckdb_path(conn)
    if path == ":memory:":
        return "memory"
    return os.path.basename(path).lstrip(".").split(".")[0]


def table_asset_uri(conn: Any, schema: str, table: str) -> str:
    """The Asset URI Cosmos (via OpenLineage) gives the same table, so both engines share one lineage.

    duckdb:///<file>/<db>/<schema>/<table> and postgres://<host>:<port>/<db>/<schema>/<table>.
    """
    return dataset_namespace(conn) + "/" + quote(f"{database_name(conn)}.{schema}.{table}").replace(".", "/")


def file_asset_uri(path: str) -> str:
    """`file:///<absolute path>`: Airflow's file Asset, which its OpenLineage integration
    names (namespace `file`, name `<absolute path>`) like `engines.openlineage.file_dataset`."""
    return f"file://{quote(os.path.abspath(path))}"


def connect_duckdb_read_only(path: str) -> Any:
    """A read-only DuckDB connection to `path`; when this process already has the file open
    read-write (tasks under dag.test), DuckDB refuses a second configuration: share that one."""
    import duckdb

    try:
        return duckdb.connect(path, read_only=True)
    except duckdb.ConnectionException as exc:
        if "different configuration" not in str(exc):
            raise
        return duckdb.connect(path)
