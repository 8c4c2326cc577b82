"""SQLMeshHook: the one place that builds a SQLMesh Context and talks to the warehouse.

Credentials come from an Airflow connection and replace the gateway's connection in the
project's config at run time, so secrets never live in `config.yaml`. The Context is
always closed when the caller is done: DuckDB admits one writing process per file, and
the next task (often dbt) needs the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.connections import conn_extra, connection_kind, duckdb_path, postgres_params
from airflow_provider_dualengine.engines.process import freeze_heap_at_exit, temporary_environ
from airflow_provider_dualengine.engines.session_settings import duckdb_settings, pgoptions_environ

if TYPE_CHECKING:
    from sqlmesh import Context
    from sqlmesh.core.config import Config
    from sqlmesh.core.console import Console

    from airflow_provider_dualengine.engines.sqlmesh.freshness import ModelFreshness

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")


class SQLMeshHook(BaseHook):
    """SQLMesh project + warehouse.

    :param project_path: the SQLMesh project folder; else the connection's `project_path` extra.
    :param gateway: gateway in the project's config; else the connection's `gateway` extra, else the default.
    :param conn_id: a `sqlmesh`, `duckdb` or `postgres` connection holding the warehouse credentials.
    :param state_conn_id: optional separate connection for SQLMesh state (e.g. Postgres beside a DuckDB warehouse).
    :param env: environment variables set while the Context lives (macros read them, e.g.
        ``DUALENGINE_DBT_SCHEMA`` for the dbt tables of the current environment).
    :param concurrent_tasks: SQLMesh's gateway `concurrent_tasks` (None: SQLMesh's default
        for the warehouse: 1 on DuckDB, 4 on PostgreSQL).
    :param warehouse_session: warehouse session settings for every connection SQLMesh opens
        to the warehouse (DuckDB `threads`, `memory_limit`; PostgreSQL `work_mem`,
        `statement_timeout`): engines/session_settings.py says how each is applied.
    """

    conn_name_attr = "conn_id"
    default_conn_name = "sqlmesh_default"
    conn_type = "sqlmesh"
    hook_name = "SQLMesh"

    def __init__(
        self,
        project_path: str | Path | None = None,
        gateway: str | None = None,
        conn_id: str | None = default_conn_name,
        state_conn_id: str | None = None,
        env: dict[str, str] | None = None,
        concurrent_tasks: int | None = None,
        warehouse_session: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_path = Path(project_path) if project_path else None
        self.gateway = gateway
        self.conn_id = conn_id
        self.state_conn_id = state_conn_id
        self.env = dict(env or {})
        self.concurrent_tasks = concurrent_tasks
        self.warehouse_session = dict(warehouse_session or {})

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        """Also finds connections stored in the metadata DB when run outside a task (our CLI)."""
        from airflow_provider_dualengine.hooks.connections import get_connection

        return get_connection(conn_id)

    def _resolve_project(self, conn: Any | None) -> tuple[Path, str | None]:
        project = self.project_path or (
            Path(conn_extra(conn, "project_path")) if conn and conn_extra(conn, "project_path") else None
        )
        if project is None:
            raise ValueError("SQLMeshHook needs a project_path (argument or the connection's `project_path` extra)")
        return project, self.gateway or (conn_extra(conn, "gateway") if conn else None)

    def load_config(self) -> tuple[Config, str | None, Path]:
        """The project's config with gateway connections taken from Airflow."""
        from airflow_provider_dualengine.engines.sqlmesh.project_config import load_project_config

        conn = self.get_connection(self.conn_id) if self.conn_id else None
        project, gateway = self._resolve_project(conn)
        config, gateway_name = load_project_config(
            project,
            gateway,
            connection=engine_connection_config(
                conn, concurrent_tasks=self.concurrent_tasks, session=self.warehouse_session
            )
            if conn is not None
            else None,
            state_connection=engine_connection_config(self.get_connection(self.state_conn_id))
            if conn is not None and self.state_conn_id
            else None,
        )
        return config, gateway_name, project

    @contextmanager
    def context(self, console: Console | None = None) -> Iterator[Context]:
        """A loaded Context; engine and state connections are released on exit.

        `console` receives SQLMesh's progress callbacks (per-model outcomes).
        """
        from sqlmesh import Context
        from sqlmesh.core.console import get_console, set_console

        from airflow_provider_dualengine.engines.sqlmesh.python_models import install_columns_check

        install_columns_check()
        config, gateway, project = self.load_config()
        previous = get_console()
        if console is not None:
            set_console(console)
        try:
            freeze_heap_at_exit()
            with (
                temporary_environ({**self.env, **self._session_environ(config, gateway)}),
                self._duckdb_file_held(config, gateway),
            ):
                ctx = Context(paths=[project], config=config, gateway=gateway)
                try:
                    yield ctx
                finally:
                    ctx.close()
                    for adapter in ctx.engine_adapters.values():
                        adapter.close()
        finally:
            set_console(previous)

    def _session_environ(self, config: Any, gateway: str | None) -> dict[str, str]:
        """PGOPTIONS carrying the session settings while the Context lives, when the
        warehouse is PostgreSQL (SQLMesh's postgres connection has no `options` field);
        {} otherwise. Set for this block only: connections opened after it do not get them."""
        from sqlmesh.core.config.connection import PostgresConnectionConfig

        if not self.warehouse_session or not isinstance(config.get_connection(gateway), PostgresConnectionConfig):
            return {}
        return pgoptions_environ(self.warehouse_session, os.environ.get("PGOPTIONS"))

    @contextmanager
    def _duckdb_file_held(self, config: Any, gateway: str | None) -> Iterator[None]:
        """On a DuckDB file, open it first through the warehouse hook, which waits while
        another process (an operator's CLI read, another DAG's task) holds it, and keep it
        open while SQLMesh works: SQLMesh then joins this process's database. Without this,
        SQLMesh reads a lock error while checking its state as "no state yet" and starts
        migrating. A `connector_config` does not change that: SQLMesh applies it with `SET`
        on its cursors, not as DuckDB's connect configuration (which DuckDB would refuse to
        differ from the one this process opened the file with)."""
        from sqlmesh.core.config.connection import DuckDBConnectionConfig

        connection = config.get_connection(gateway)
        plain_file = isinstance(connection, DuckDBConnectionConfig) and connection.database not in (None, ":memory:")
        if not plain_file or not self.conn_id:
            yield
            return
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        with WarehouseHook(self.conn_id).session():
            yield

    def model_freshness(self, model: str, environment: str, target: Any) -> ModelFreshness:
        """Whether `model` is complete up to `target` in `environment`, read from the
        gateway's SQLMesh state without building a Context (cheap enough to poll)."""
        from airflow_provider_dualengine.engines.sqlmesh.freshness import cache_dir, model_freshness

        config, gateway, project = self.load_config()
        return model_freshness(config, gateway, model, environment, target, cache_dir=cache_dir(config, project))

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.context() as ctx:
                ctx.engine_adapter.fetchone("SELECT 1")
            return True, "Connection successfully tested"
        except Exception as exc:  # report, never raise, from the UI's test button
            return False, str(exc)


def engine_connection_config(
    conn: Any, *, concurrent_tasks: int | None = None, session: Mapping[str, Any] | None = None
) -> Any:
    """SQLMesh connection config for an Airflow connection.

    :param concurrent_tasks: the gateway's `concurrent_tasks` (None: SQLMesh's default).
    :param session: warehouse session settings. DuckDB: the connection's `connector_config`
        (SQLMesh `SET`s each on its cursors). PostgreSQL has no such field: SQLMeshHook
        puts them in PGOPTIONS while its Context lives (engines/session_settings.py)."""
    from sqlmesh.core.config.connection import DuckDBConnectionConfig, PostgresConnectionConfig

    extra: dict[str, Any] = {"concurrent_tasks": concurrent_tasks} if concurrent_tasks else {}
    if connection_kind(conn) == "duckdb":
        return DuckDBConnectionConfig(database=duckdb_path(conn), connector_config=duckdb_settings(session), **extra)
    return PostgresConnectionConfig(**postgres_params(conn), **extra)
