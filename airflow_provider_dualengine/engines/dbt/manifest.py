"""Write the dbt manifest that Cosmos renders from, so DAG parsing never runs dbt.

`dbt compile --no-populate-cache` (and `dbt parse`) need a profile but never connect, so
they run against a throw-away profile of the right adapter type: no credentials are read
or written.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.engines.connections import POSTGRES_EXTRA

_PARSE_PROFILES: dict[str, dict[str, Any]] = {
    "duckdb": {"type": "duckdb", "path": ":memory:"},
    "postgres": {
        "type": "postgres",
        "host": "localhost",
        "port": 5432,
        "user": "parse",
        "password": "parse",
        "dbname": "parse",
    },
}


ADAPTER_MISSING = "dbt's postgres adapter (dbt-postgres) is not installed"


class DbtParseError(DualEngineConfigError):
    """`dbt parse` rejected the project; the issues name the file, line and dbt's message."""


def _parse_env(sqlmesh_models: Path | None) -> dict[str, str]:
    from airflow_provider_dualengine.engines.dbt.sqlmesh_refs import MODELS_FILE_ENV

    env = {k: v for k, v in os.environ.items() if k != MODELS_FILE_ENV}
    if sqlmesh_models is not None:
        env[MODELS_FILE_ENV] = str(sqlmesh_models)
    return env


def compile_manifest(
    project: Project, environment: str | None = None, sqlmesh_models: Path | None = None
) -> tuple[Path, str | None]:
    """Run `dbt compile` (no warehouse: a throw-away profile, no cache population) for the
    project's dbt folder; return the manifest path and, when only compiling failed, why.

    Compiled SQL is what tells which columns a dbt model reads from its inputs (contracts
    check it). A model that needs the warehouse to compile (`run_query`, introspecting
    macros) makes `dbt compile` fail without one: then `dbt parse` writes the manifest as
    before, and the reason is returned, so only the column-level checks are lost.
    `sqlmesh_models` is the JSON the `dbt_dualengine` plugin reads so that dbt models can
    `ref()` SQLMesh models; the run is environment-neutral (prod names)."""
    env = project.environment(environment)
    settings = project.settings
    with offline_profiles(project, environment) as profiles_dir:
        compiled = _run_dbt(project, env.dbt_target, profiles_dir, sqlmesh_models, "compile", "--no-populate-cache")
        if compiled.returncode == 0 and project.dbt_manifest_path.is_file():
            return project.dbt_manifest_path, None
        result = _run_dbt(project, env.dbt_target, profiles_dir, sqlmesh_models, "parse")
    if result.returncode != 0 or not project.dbt_manifest_path.is_file():
        issues = dbt_parse_issues(
            result.stdout + "\n" + result.stderr, project.dbt_path, _sqlmesh_names(sqlmesh_models)
        )
        # The adapter dbt needs is the warehouse type of dualengine.yml: point there.
        issues = [
            ConfigIssue(
                project.files["settings"],
                "warehouse.type",
                f"warehouse type '{settings.warehouse.type}': {i.message}",
                i.hint,
            )
            if ADAPTER_MISSING in i.message
            else i
            for i in issues
        ]
        raise DbtParseError(issues)
    [why] = dbt_parse_issues(compiled.stdout + "\n" + compiled.stderr, project.dbt_path, [])
    where = (
        f" ({why.file.relative_to(project.dbt_path)})" if why.file and why.file.is_relative_to(project.dbt_path) else ""
    )
    return project.dbt_manifest_path, f"dbt compile without a warehouse failed{where}: {why.message}"


@contextmanager
def offline_profiles(project: Project, environment: str | None = None) -> Iterator[str]:
    """A profiles folder whose only target is the environment's, with the adapter's
    throw-away settings (dbt parses, compiles and lists with it; it never connects)."""
    env = project.environment(environment)
    settings = project.settings
    profile = {
        settings.dbt.profile: {
            "target": env.dbt_target,
            "outputs": {
                env.dbt_target: {**_PARSE_PROFILES[settings.warehouse.type], "schema": env.dbt_schema, "threads": 1}
            },
        }
    }
    with tempfile.TemporaryDirectory(prefix="dualengine-parse-") as profiles_dir:
        (Path(profiles_dir) / "profiles.yml").write_text(yaml.safe_dump(profile), encoding="utf-8")
        yield profiles_dir


def modified_nodes(
    project: Project, base_manifest_dir: Path, sqlmesh_models: Path, environment: str | None = None
) -> list[dict[str, str]]:
    """Every node (model, seed, snapshot, source, test...) dbt's own state comparison
    (`state:modified`: code, config, macros, contracts) finds changed against a base
    revision's manifest, as `{"unique_id", "resource_type", "name"}`. Raises DbtParseError
    when dbt cannot list the project."""
    env = project.environment(environment)
    with offline_profiles(project, environment) as profiles_dir, tempfile.TemporaryDirectory() as listing:
        # fmt: off
        result = _run_dbt(
            project, env.dbt_target, profiles_dir, sqlmesh_models, "ls",
            "--select", "state:modified", "--state", str(base_manifest_dir),
            "--output", "json", "--output-keys", "unique_id", "resource_type", "name", target_path=Path(listing),
        )
        # fmt: on
    if result.returncode != 0:
        raise DbtParseError(
            dbt_parse_issues(result.stdout + "\n" + result.stderr, project.dbt_path, _sqlmesh_names(sqlmesh_models))
        )
    nodes = []
    for line in result.stdout.splitlines():
        line = _ANSI.sub("", line).strip()
        if line.startswith("{"):
            nodes.append(json.loads(line))
    return nodes


def _run_dbt(
    project: Project,
    target: str,
    profiles_dir: str,
    sqlmesh_models: Path | None,
    command: str,
    *flags: str,
    target_path: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    # Subprocess: dbt keeps adapter state in module globals we do not want in our process.
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dbt.cli.main",
            command,
            "--project-dir",
            str(project.dbt_path),
            "--profiles-dir",
            profiles_dir,
            "--target",
            target,
            "--target-path",
            str(target_path or project.dbt_manifest_path.parent),
            "--no-partial-parse",
            "--quiet",
            *flags,
        ],
        cwd=project.dbt_path,
        capture_output=True,
        text=True,
        check=False,
        env=_parse_env(sqlmesh_models),
    )


def _sqlmesh_names(models_file: Path | None) -> list[str]:
    if models_file is None or not models_file.is_file():
        return []
    return sorted(json.loads(models_file.read_text(encoding="utf-8")).get("sqlmesh", {}).get("models", {}))


# --- dbt's parse output as ConfigIssues ---------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d\s+")
_FILE_IN_PARENS = re.compile(r"\(([^()\s]+\.(?:sql|yml|yaml|py|csv|md))\)")
_FILE_READING = re.compile(r"Error reading [\w-]+: (\S+\.(?:yml|yaml|sql|md))")
_LINE = re.compile(r"\bline (\d+)", re.IGNORECASE)
_MISSING_NODE = re.compile(r"depends on a node named '([^']+)'(?: with version '[^']*')? which was not found")
_MISSING_SOURCE = re.compile(r"depends on a source named '([^']+)' which was not found")
_NOISE = (
    re.compile(r"^-{5,}"),
    re.compile(r"^\d+\s+\|"),
    re.compile(r'^in "<unicode string>"'),
    re.compile(r"^Raw Error:"),
    re.compile(r"^<frozen runpy>"),
)
_MAX = 400


def dbt_parse_issues(output: str, dbt_path: Path, sqlmesh_models: list[str]) -> list[ConfigIssue]:
    """One issue for the error `dbt parse` stops at: the file (the model, or the YAML file
    it could not read), the line where dbt gives one, dbt's own message, and a fix."""
    text = "\n".join(_TIMESTAMP.sub("", line) for line in _ANSI.sub("", output).splitlines())
    body = text.split("Encountered an error:", 1)[1] if "Encountered an error:" in text else text
    lines = [
        line.strip() for line in body.splitlines() if line.strip() and not any(p.match(line.strip()) for p in _NOISE)
    ]
    file = _error_file(body, dbt_path)
    hint = f"correct the {'model' if file is not None and file.suffix == '.sql' else 'file'} where dbt points; `dbt parse` in {dbt_path} shows the same error"
    node, source = _MISSING_NODE.search(body), _MISSING_SOURCE.search(body)
    if node:
        message, hint = _missing_ref(node.group(1), sqlmesh_models, dbt_path)
    elif source:
        source_name, _, table = source.group(1).partition(".")
        message = f"source('{source_name}', '{table}') is not declared in any sources .yml file"
        hint = "declare the table under `sources:` (a SQLMesh model is read as a source with its schema and table name), or fix the name"
    elif re.search(r"adapter type '?postgres", body, re.IGNORECASE) or "dbt.adapters.postgres" in body:
        message, hint = ADAPTER_MISSING, f"install the provider with its postgres extra: {POSTGRES_EXTRA}"
    elif "Syntax error near line" in body:
        raw = body.split("Raw Error:", 1)[-1]
        problems = [
            line.strip()
            for line in raw.splitlines()
            if line.strip() and not line.strip().startswith(('in "<unicode', "---", "<frozen"))
        ]
        message = f"dbt cannot read this YAML file: {problems[-1] if problems else 'syntax error'}"
        hint = "fix the YAML syntax (indentation, quotes, colons)"
    else:
        kind = re.sub(r" in \w+ [\w.]+ \(.*\)$", "", lines[0]) if lines else "dbt parse failed"
        detail: list[str] = []
        for line in lines[1:]:
            if _LINE.fullmatch(line) or len(detail) == 3:
                break  # dbt's code excerpt follows the line marker
            detail.append(line)
        message = f"dbt: {kind}" + (f": {'; '.join(detail)}" if detail else "")
    if len(message) > _MAX:
        message = message[: _MAX - 3] + "..."
    marker = _LINE.search(body)
    return [ConfigIssue(file or dbt_path, f"line {marker.group(1)}" if marker and file else "", message, hint)]


def _error_file(body: str, dbt_path: Path) -> Path | None:
    """The file dbt names: `(models/x.sql)` relative to the project, or `Error reading
    <project>: staging/schema.yml` relative to one of its resource folders."""
    match = _FILE_IN_PARENS.search(body)
    if match and (dbt_path / match.group(1)).is_file():
        return dbt_path / match.group(1)
    match = _FILE_READING.search(body)
    if match:
        relative = match.group(1)
        if (dbt_path / relative).is_file():
            return dbt_path / relative
        found = [
            p
            for p in dbt_path.rglob(Path(relative).name)
            if p.as_posix().endswith("/" + relative) and "target" not in p.relative_to(dbt_path).parts
        ]
        if found:
            return found[0]
    return None


def _missing_ref(name: str, sqlmesh_models: list[str], dbt_path: Path) -> tuple[str, str]:
    if "." in name:  # schema.table: meant as a SQLMesh model (the dbt_dualengine plugin)
        close = difflib.get_close_matches(name, sqlmesh_models, n=3, cutoff=0.6)
        maybe = f"did you mean {', '.join(close)}? " if close else ""
        return (
            f"ref('{name}') names no SQLMesh model (and no dbt model)",
            f"{maybe}SQLMesh models: {', '.join(sqlmesh_models) or '(none)'}",
        )
    models = sorted(
        {p.stem for p in dbt_path.rglob("*.sql") if not {"target", "dbt_packages"} & set(p.relative_to(dbt_path).parts)}
    )
    close = difflib.get_close_matches(name, models, n=3, cutoff=0.6)
    maybe = f"did you mean {', '.join(close)}? " if close else ""
    return (
        f"ref('{name}') names no dbt model",
        f"{maybe}a dbt model is named after its .sql file; a SQLMesh model is ref()'d as 'schema.table'",
    )
