"""DuckDBHook: the `duckdb` connection type, so the documented warehouse connection exists.

No provider installed with Airflow registers `duckdb`: without this, `airflow connections
add ... --conn-type duckdb` silently stores the type `generic` and the UI offers no DuckDB
form. The connection follows the convention Cosmos' DuckDB profile mapping and SQLMesh
use: the database file in `host`, nothing else. (If another provider also registers
`duckdb`, Airflow keeps one of the two; both read the file from `host`.)
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.connections import duckdb_path


class DuckDBHook(BaseHook):
    """A DuckDB database file behind an Airflow connection.

    :param duckdb_conn_id: connection whose host is the database file path.
    :param read_only: open without taking DuckDB's writer lock (other processes may read too).
    """

    conn_name_attr = "duckdb_conn_id"
    default_conn_name = "dualengine_warehouse"
    conn_type = "duckdb"
    hook_name = "DuckDB"

    def __init__(self, duckdb_conn_id: str = default_conn_name, read_only: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.duckdb_conn_id = duckdb_conn_id
        self.read_only = read_only

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        from airflow_provider_dualengine.hooks.connections import get_connection

        return get_connection(conn_id)

    def database_path(self) -> str:
        return duckdb_path(self.get_connection(self.duckdb_conn_id))

    def get_conn(self) -> Any:
        import duckdb

        return duckdb.connect(self.database_path(), read_only=self.read_only)

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: a file that exists must open; a missing one needs a writable folder."""
        try:
            path = self.database_path()
            if path != ":memory:" and not os.path.exists(path):
                folder = os.path.dirname(os.path.abspath(path))
                if os.access(folder, os.W_OK):
                    return True, f"{path} does not exist yet; the first SQLMesh or dbt task creates it"
                return False, f"{path} does not exist and its folder {folder} is missing or not writable"
            with self.get_conn() as db:
                db.execute("SELECT 1").fetchone()
            return True, f"opened {path}"
        except Exception as exc:  # report, never raise, from the UI's test button
            return False, f"{type(exc).__name__}: {exc}"
