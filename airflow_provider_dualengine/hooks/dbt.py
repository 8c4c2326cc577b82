"""DbtHook: dbt's profile from an Airflow connection, and one in-process `dbt build`.

The profile is written by Cosmos' profile mappings (the library that already maps Airflow
connections to dbt profiles, also used for rendering): secrets reach dbt as environment
variables that `profiles.yml` names, so they are neither in a file on disk nor in the
task log. dbt writes its target/ and logs/ into a temporary folder; the project folder is
only read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.dbt.build import DbtBuildRequest, run_build
from airflow_provider_dualengine.engines.session_settings import (
    duckdb_settings,
    pgoptions_environ,
    read_values,
    readback_sql,
)


class DbtHook(BaseHook):
    """dbt against the warehouse of an Airflow connection.

    :param conn_id: the warehouse connection (`duckdb` or `postgres`).
    :param warehouse_type: `duckdb` or `postgres`: which Cosmos profile mapping applies.
    :param profile_name: the dbt project's profile name.
    :param target_name: the dbt target of this environment.
    :param schema: the schema dbt builds into (the environment's dbt schema).
    :param threads: dbt threads (None: 1, also on a single-writer warehouse).
    :param warehouse_session: warehouse session settings for every connection dbt opens.
        DuckDB: the profile's `settings` (dbt-duckdb `SET`s each on its cursors).
        PostgreSQL: dbt-postgres has no `options` field, so PGOPTIONS in dbt's environment
        while it runs (`session_environ`); engines/session_settings.py.
    """

    hook_name = "dbt (dualengine)"

    def __init__(
        self,
        conn_id: str,
        *,
        warehouse_type: str,
        profile_name: str,
        target_name: str,
        schema: str,
        threads: int | None = None,
        warehouse_session: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self.conn_id = conn_id
        self.warehouse_type = warehouse_type
        self.profile_name = profile_name
        self.target_name = target_name
        self.schema = schema
        self.threads = threads
        self.warehouse_session = dict(warehouse_session or {})

    def profile_config(self) -> Any:
        from cosmos import ProfileConfig

        if self.warehouse_type == "postgres":
            from cosmos.profiles import PostgresUserPasswordProfileMapping as Mapping
        else:
            from cosmos.profiles import DuckDBUserPasswordProfileMapping as Mapping
        profile_args: dict[str, Any] = {"schema": self.schema, "threads": self.threads or 1}
        if self.warehouse_type == "duckdb" and self.warehouse_session:
            profile_args["settings"] = duckdb_settings(self.warehouse_session)
        return ProfileConfig(
            profile_name=self.profile_name,
            target_name=self.target_name,
            profile_mapping=Mapping(conn_id=self.conn_id, profile_args=profile_args),
        )

    def session_environ(self, current: str | None = None) -> dict[str, str]:
        """Environment variables dbt needs for the session settings: PGOPTIONS on PostgreSQL
        (`current`: the PGOPTIONS dbt's process already has, kept), {} otherwise."""
        if self.warehouse_type != "postgres":
            return {}
        return pgoptions_environ(self.warehouse_session, current)

    @contextmanager
    def profile(self) -> Iterator[tuple[Path, dict[str, str]]]:
        """(folder holding profiles.yml, environment variables holding its secrets)."""
        with self.profile_config().ensure_profile() as (path, secrets):
            yield Path(path).parent, dict(secrets)

    def build(
        self,
        project_dir: str | Path,
        select: list[str],
        *,
        vars: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        read_back: Sequence[str] = (),
    ) -> dict[str, Any]:
        """`dbt build --select ...`; the per-model outcomes (engines.dbt.build.model_outcomes).

        `read_back`: settings to read from the warehouse after the build where that costs
        nothing: on DuckDB, from the database dbt used in this process (`threads` and
        `memory_limit` are settings of that database, as dbt left them), returned as
        `warehouse_session` ({name: value}); PostgreSQL sessions end with dbt, so there a
        read-back would take another dbt invocation and `warehouse_session` is None."""
        with (
            self._duckdb_file_held() as held,
            self.profile() as (profiles_dir, secrets),
            tempfile.TemporaryDirectory(prefix="dualengine-dbt-") as work,
        ):
            request = DbtBuildRequest(
                project_dir=Path(project_dir).resolve(),
                profiles_dir=profiles_dir,
                target=self.target_name,
                select=tuple(select),
                work_dir=Path(work),
                vars=dict(vars or {}),
                threads=self.threads,
            )
            result = run_build(request, {**(env or {}), **secrets, **self.session_environ(os.environ.get("PGOPTIONS"))})
            if read_back:
                result["warehouse_session"] = self._read_back(held, read_back)
            return result

    def _read_back(self, warehouse: Any, names: Sequence[str]) -> dict[str, str] | None:
        """The settings' current values in the held DuckDB database; None without one, or
        when reading fails (reported, never raised: the build is done)."""
        if warehouse is None:
            return None
        try:
            warehouse.execute(readback_sql(list(names)))
            return read_values(list(names), warehouse.fetchone())
        except Exception as exc:  # the drivers raise their own types
            self.log.warning("could not read the warehouse session settings back: %s", exc)
            return None

    @contextmanager
    def _duckdb_file_held(self) -> Iterator[Any]:
        """On DuckDB, open the file first through the warehouse hook, which waits while another
        process (an operator's CLI read, a task of another DAG) holds it, and keep it open
        while dbt runs: dbt-duckdb then joins this process's database instead of meeting a
        lock. Yields that session (a `Warehouse`); elsewhere a no-op yielding None."""
        if self.warehouse_type != "duckdb":
            yield None
            return
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        with WarehouseHook(self.conn_id).session() as warehouse:
            yield warehouse
