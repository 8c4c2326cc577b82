"""DbtHook: dbt's profile from an Airflow connection, and one in-process `dbt build`.

The profile is written by Cosmos' profile mappings (the library that already maps Airflow
connections to dbt profiles, also used for rendering): secrets reach dbt as environment
variables that `profiles.yml` names, so they are neither in a file on disk nor in the
task log. dbt writes its target/ and logs/ into a temporary folder; the project folder is
only read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.dbt.build import DbtBuildRequest, run_build


class DbtHook(BaseHook):
    """dbt against the warehouse of an Airflow connection.

    :param conn_id: the warehouse connection (`duckdb` or `postgres`).
    :param warehouse_type: `duckdb` or `postgres`: which Cosmos profile mapping applies.
    :param profile_name: the dbt project's profile name.
    :param target_name: the dbt target of this environment.
    :param schema: the schema dbt builds into (the environment's dbt schema).
    :param threads: dbt threads (1 on a single-writer warehouse).
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
        threads: int = 1,
    ):
        super().__init__()
        self.conn_id = conn_id
        self.warehouse_type = warehouse_type
        self.profile_name = profile_name
        self.target_name = target_name
        self.schema = schema
        self.threads = threads

    def profile_config(self) -> Any:
        from cosmos import ProfileConfig

        if self.warehouse_type == "postgres":
            from cosmos.profiles import PostgresUserPasswordProfileMapping as Mapping
        else:
            from cosmos.profiles import DuckDBUserPasswordProfileMapping as Mapping
        return ProfileConfig(
            profile_name=self.profile_name,
            target_name=self.target_name,
            profile_mapping=Mapping(
                conn_id=self.conn_id, profile_args={"schema": self.schema, "threads": self.threads}
            ),
        )

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
    ) -> dict[str, Any]:
        """`dbt build --select ...`; the per-model outcomes (engines.dbt.build.model_outcomes)."""
        with (
            self._duckdb_file_held(),
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
            )
            return run_build(request, {**(env or {}), **secrets})

    @contextmanager
    def _duckdb_file_held(self) -> Iterator[None]:
        """On DuckDB, open the file first through the warehouse hook, which waits while another
        process (an operator's CLI read, a task of another DAG) holds it, and keep it open
        while dbt runs: dbt-duckdb then joins this process's database instead of meeting a
        lock. Elsewhere a no-op."""
        if self.warehouse_type != "duckdb":
            yield
            return
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        with WarehouseHook(self.conn_id).session():
            yield
