"""Write the dbt manifest that Cosmos renders from, so DAG parsing never runs dbt.

`dbt parse` needs a profile but never connects, so it runs against a throw-away
profile of the right adapter type: no credentials are read or written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from airflow_provider_dualengine.config.project import Project

_PARSE_PROFILES = {
    "duckdb": {"type": "duckdb", "path": ":memory:"},
    "postgres": {"type": "postgres", "host": "localhost", "port": 5432, "user": "parse", "password": "parse", "dbname": "parse"},
}


class DbtParseError(RuntimeError):
    pass


def _parse_env(sqlmesh_models: Path | None) -> dict[str, str]:
    from airflow_provider_dualengine.engines.dbt.sqlmesh_refs import MODELS_FILE_ENV

    env = {k: v for k, v in os.environ.items() if k != MODELS_FILE_ENV}
    if sqlmesh_models is not None:
        env[MODELS_FILE_ENV] = str(sqlmesh_models)
    return env


def compile_manifest(project: Project, environment: str | None = None, sqlmesh_models: Path | None = None) -> Path:
    """Run `dbt parse` for the project's dbt folder; return the manifest path.

    `sqlmesh_models` is the JSON the `dbt_dualengine` plugin reads so that dbt models can
    `ref()` SQLMesh models; the parse is environment-neutral (prod names)."""
    env = project.environment(environment)
    settings = project.settings
    profile = {settings.dbt.profile: {"target": env.dbt_target, "outputs": {env.dbt_target: {**_PARSE_PROFILES[settings.warehouse.type], "schema": env.dbt_schema, "threads": 1}}}}
    target_path = project.dbt_manifest_path.parent
    with tempfile.TemporaryDirectory(prefix="dualengine-parse-") as profiles_dir:
        (Path(profiles_dir) / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        # Subprocess: dbt keeps adapter state in module globals we do not want in our process.
        result = subprocess.run(
            [sys.executable, "-m", "dbt.cli.main", "parse", "--project-dir", str(project.dbt_path), "--profiles-dir", profiles_dir, "--target", env.dbt_target, "--target-path", str(target_path), "--no-partial-parse", "--quiet"],
            cwd=project.dbt_path,
            capture_output=True,
            text=True,
            check=False,
            env=_parse_env(sqlmesh_models),
        )
    if result.returncode != 0 or not project.dbt_manifest_path.is_file():
        raise DbtParseError(f"dbt parse failed for {project.dbt_path}:\n{(result.stdout + result.stderr).strip()}")
    return project.dbt_manifest_path
