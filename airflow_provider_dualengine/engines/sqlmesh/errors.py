"""SQLMesh's load errors as ConfigIssues: the file, the line where SQLMesh gives one, and
SQLMesh's own words (trimmed: no colour codes, no code excerpt, no traceback).

Loading a project fails on a model that does not parse or import (a `ConfigError` with the
model's path), on a broken `config.yaml` (a YAML error, or a `ConfigError` about its
content), and on a missing engine library (the postgres gateway without psycopg2).
"""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_dualengine.config.errors import ConfigIssue
from airflow_provider_dualengine.engines.connections import POSTGRES_EXTRA

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LINE = re.compile(r"\bline:? (\d+)", re.IGNORECASE)
_MODEL_HEADER = re.compile(r"^Failed to load model (?:definition )?from file '[^']*':?\s*", re.IGNORECASE)
_ENGINE_LIBRARY = re.compile(r"Failed to import the '([\w-]+)' engine library")
_TOKEN = re.compile(
    r"<Token token_type: [\w.]+, text: (.*?), line: \d+, col: \d+, start: \d+, end: \d+, comments: \[.*?\]>"
)
_CLASS = re.compile(r"<class '(?:\w+\.)*(\w+)'>")
_FIELD = re.compile(r"Invalid field '([\w.]+)'")
_CONFIG_FILES = ("config.yaml", "config.yml", "config.py")
_MAX = 400


def clean(text: str) -> str:
    """Engine text without terminal colour codes, sqlglot token dumps (`<Token ... text:
    WHERE ...>` becomes `'WHERE'`), class reprs (`<class 'sqlglot...Where'>` becomes
    `Where`) and trailing whitespace per line."""
    text = _CLASS.sub(lambda m: m.group(1), _TOKEN.sub(lambda m: f"'{m.group(1)}'", _ANSI.sub("", text)))
    return "\n".join(line.rstrip() for line in text.splitlines())


def config_file(project_path: Path) -> Path:
    """The SQLMesh project's config file (config.yaml, else config.yml/config.py)."""
    for name in _CONFIG_FILES:
        if (project_path / name).is_file():
            return project_path / name
    return project_path / _CONFIG_FILES[0]


def _gateways_using(file: Path, engine: str) -> list[str]:
    """Key paths (`gateways.<name>.<connection>.type`) of connections of type `engine`."""
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) if file.suffix in (".yaml", ".yml") else None
    except Exception:  # noqa: BLE001 - only improves a message
        return []
    gateways = data.get("gateways") if isinstance(data, dict) else None
    found = []
    for name, gateway in gateways.items() if isinstance(gateways, dict) else []:
        for field in ("connection", "state_connection", "test_connection"):
            connection = gateway.get(field) if isinstance(gateway, dict) else None
            if isinstance(connection, dict) and connection.get("type") == engine:
                found.append(f"gateways.{name}.{field}.type")
                break
    return found


def _first_lines(text: str, count: int = 2) -> str:
    """The engine's message: its first non-empty lines, before any code excerpt."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept = " ".join(lines[:count])
    return kept if len(kept) <= _MAX else kept[: _MAX - 3] + "..."


def _line(text: str) -> str:
    match = _LINE.search(text)
    return f"line {match.group(1)}" if match else ""


def sqlmesh_load_issue(exc: BaseException, project_path: Path) -> ConfigIssue | None:
    """A ConfigIssue for an error raised while SQLMesh loads the project, or None when
    the error is not one of SQLMesh's (a bug to show as is)."""
    from sqlmesh.utils.errors import ConfigError, SQLMeshError

    text = clean(str(exc))
    mark = getattr(exc, "problem_mark", None)
    if mark is not None and hasattr(exc, "problem"):  # ruamel: config.yaml is not YAML
        context = f"{exc.context}: " if getattr(exc, "context", None) else ""  # type: ignore[attr-defined]
        return ConfigIssue(
            config_file(project_path),
            f"line {mark.line + 1}",
            f"invalid YAML: {context}{exc.problem}",
            "fix the YAML syntax of the SQLMesh config (indentation, quotes, colons)",
        )
    library = _ENGINE_LIBRARY.search(text)
    if library:
        engine = library.group(1)
        hint = (
            f"install the provider with its {engine} extra: {POSTGRES_EXTRA}"
            if engine == "postgres"
            else f'install the {engine} engine library (pip install "sqlmesh[{engine}]"), or remove that gateway from the SQLMesh config'
        )
        file = config_file(project_path)
        users = _gateways_using(file, engine)
        key = users[0] if len(users) == 1 else "gateways"
        named = f"gateway '{users[0].split('.')[1]}' uses" if len(users) == 1 else "a gateway uses"
        return ConfigIssue(file, key, f"{named} the '{engine}' engine, whose Python library is not installed", hint)
    location = getattr(exc, "location", None)
    if (
        isinstance(exc, ConfigError)
        and location is not None
        and Path(location).suffix in (".sql", ".py")
        and Path(location).name not in _CONFIG_FILES
    ):
        message = _MODEL_HEADER.sub("", text.strip())
        return ConfigIssue(
            Path(location),
            _line(message),
            f"SQLMesh cannot load this model: {_first_lines(message, 1)}",
            "fix the model; `sqlmesh info` in the SQLMesh project shows the same error",
        )
    if isinstance(exc, ConfigError):
        message = text.replace("Verify your config.yaml and environment variables.", "").strip()
        field = _FIELD.search(message)
        return ConfigIssue(
            Path(location) if location else config_file(project_path),
            field.group(1) if field else _line(message),
            f"SQLMesh rejects the project config: {_first_lines(message, 3)}",
            "fix the SQLMesh config (gateways, model_defaults, ...); `sqlmesh info` shows the same error",
        )
    if isinstance(exc, SQLMeshError):
        return ConfigIssue(
            project_path,
            _line(text),
            f"SQLMesh cannot load the project: {_first_lines(text, 3)}",
            "fix the project; `sqlmesh info` in the SQLMesh project shows the same error",
        )
    return None
