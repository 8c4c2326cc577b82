"""SQLMeshHook: the one place that builds a SQLMesh Context and talks to the warehouse.

Credentials come from an Airflow connection and replace the gateway's connection in
the project's config at run time, so secrets never live in `config.yaml`. The Context
is always closed when the caller is done: DuckDB admits a single writing process per
file, and the next task (often dbt) needs the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.connections import connection_kind, duckdb_path

if TYPE_CHECKING:
    from sqlmesh import Context
    from sqlmesh.core.config import Config

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")


class SQLMeshHook(BaseHook):
    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "dualengine_warehouse"
    conn_type = "duckdb"
    hook_name = "SQLMesh warehouse"

    def __init__(self, project_path: str | Path, gateway: str | None = None, warehouse_conn_id: str | None = default_conn_name, **kwargs: Any):
        super().__init__(**kwargs)
        self.project_path = Path(project_path)
        self.gateway = gateway
        self.warehouse_conn_id = warehouse_conn_id

    def load_config(self) -> tuple[Config, str]:
        """The project's config with the gateway's connection taken from Airflow."""
        from sqlmesh.core.config import Config
        from sqlmesh.core.config.loader import load_configs

        config = next(iter(load_configs(None, Config, [self.project_path]).values()))
        gateway_name = (self.gateway or config.default_gateway or next(iter(config.gateways), "")).lower()
        if self.warehouse_conn_id:
            gateway = config.get_gateway(gateway_name)
            connection = self.engine_connection_config()
            config = config.model_copy(update={"gateways": {**config.gateways, gateway_name: gateway.model_copy(update={"connection": connection})}})
        return config, gateway_name

    def engine_connection_config(self) -> Any:
        from sqlmesh.core.config.connection import DuckDBConnectionConfig, PostgresConnectionConfig

        conn = self.get_connection(self.warehouse_conn_id)
        if connection_kind(conn) == "duckdb":
            return DuckDBConnectionConfig(database=duckdb_path(conn))
        return PostgresConnectionConfig(host=conn.host, port=conn.port or 5432, user=conn.login, password=conn.password or "", database=conn.schema)

    @contextmanager
    def context(self) -> Iterator[Context]:
        """A loaded Context whose engine and state connections are released on exit."""
        from sqlmesh import Context

        config, gateway = self.load_config()
        ctx = Context(paths=[self.project_path], config=config, gateway=gateway)
        try:
            yield ctx
        finally:
            ctx.close()
            for adapter in ctx.engine_adapters.values():
                adapter.close()
