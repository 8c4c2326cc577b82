"""Warehouse settings taken from an Airflow connection, per engine.

Credentials live in Airflow (connections or a secrets backend); these helpers turn
a connection into each engine's own connection object at task run time only.
"""

from __future__ import annotations

from typing import Any


class UnsupportedWarehouse(ValueError):
    pass


def connection_kind(conn: Any) -> str:
    kind = (conn.conn_type or "").lower()
    if kind in {"postgres", "postgresql"}:
        return "postgres"
    if kind == "duckdb":
        return "duckdb"
    raise UnsupportedWarehouse(f"connection '{conn.conn_id}' has type '{conn.conn_type}'; supported: duckdb, postgres")


def duckdb_path(conn: Any) -> str:
    """DuckDB connections keep the database file in `host` (the Cosmos/duckdb provider convention)."""
    path = conn.host or (conn.extra_dejson or {}).get("path")
    if not path:
        raise UnsupportedWarehouse(f"DuckDB connection '{conn.conn_id}' has no database file in its host field")
    return path
