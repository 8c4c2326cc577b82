"""dbt sources that read SQLMesh models: do they name a real model, and will they read the
SQLMesh environment of the run?

A source over a SQLMesh model must take its schema suffix from the dbt var the provider
sets per environment (`sqlmesh_schema_suffix` unless `dbt.sqlmesh_suffix_var` renames
it): `schema: "staging{{ var('sqlmesh_schema_suffix', '') }}"`. A schema with its own var
name, or a fixed one, renders to the prod schema in every environment, so dev runs read
prod views (or fail where they do not exist yet). dbt's manifest only holds the schema
as rendered for one target, so the raw `schema` is read from the source's YAML file and
rendered with a `var()` stub that marks the provider's var.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from airflow_provider_dualengine.config.errors import ConfigIssue

_PROBE = "__dualengine_probe__"


def _base_schema(schema: str) -> str:
    """`staging__dev` -> `staging`: a SQLMesh environment's view schema, back to the model's."""
    return schema.split("__", 1)[0]


def sqlmesh_source_issues(
    manifest: dict[str, Any], dbt_path: Path, project_name: str, sqlmesh_models: list[str], suffix_var: str
) -> list[ConfigIssue]:
    """Every dbt source (of this project) in a SQLMesh schema: the model must exist, and
    the source's schema must follow `suffix_var` (one issue per source entry)."""
    models = {m.lower(): m for m in sqlmesh_models}
    schemas = {m.split(".")[0] for m in models}
    issues: list[ConfigIssue] = []
    raw_files: dict[Path, Any] = {}
    over_sqlmesh: dict[tuple[Path, str], list[str]] = {}  # (file, source name) -> SQLMesh models read
    for source in sorted(manifest.get("sources", {}).values(), key=lambda s: s.get("unique_id", "")):
        if source.get("package_name") != project_name:
            continue
        schema = _base_schema(str(source.get("schema") or "")).lower()
        if schema not in schemas:
            continue  # not a SQLMesh schema: a raw table, another system's
        table = f"{schema}.{str(source.get('identifier') or source.get('name')).lower()}"
        file = dbt_path / source.get("original_file_path", "")
        if table not in models:
            close = difflib.get_close_matches(table, list(models.values()), n=3, cutoff=0.6)
            maybe = f"did you mean {', '.join(close)}? " if close else ""
            issues.append(
                ConfigIssue(
                    file,
                    _table_key(file, raw_files, source.get("source_name", ""), source.get("name", "")),
                    f"source('{source.get('source_name')}', '{source.get('name')}') reads {table} in SQLMesh schema '{schema}', but the SQLMesh project has no model {table}",
                    f"{maybe}name the table (or its identifier) after a SQLMesh model; a table SQLMesh does not manage does not belong in a schema SQLMesh writes",
                )
            )
            continue
        over_sqlmesh.setdefault((file, source.get("source_name", "")), []).append(models[table])
    for (file, source_name), read in over_sqlmesh.items():
        issues.extend(_suffix_issues(file, raw_files, source_name, read, suffix_var))
    return issues


def _source_entry(file: Path, raw_files: dict[Path, Any], source_name: str) -> tuple[int, dict[str, Any]] | None:
    if file not in raw_files:
        try:
            raw_files[file] = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            raw_files[file] = {}  # dbt parsed it moments ago; nothing to add here
    sources = raw_files[file].get("sources") if isinstance(raw_files[file], dict) else None
    for index, entry in enumerate(sources if isinstance(sources, list) else []):
        if isinstance(entry, dict) and entry.get("name") == source_name:
            return index, entry
    return None


def _table_key(file: Path, raw_files: dict[Path, Any], source_name: str, table: str) -> str:
    found = _source_entry(file, raw_files, source_name)
    if found is None:
        return f"sources.{source_name}"
    listed = found[1].get("tables")
    tables = listed if isinstance(listed, list) else []
    index = next((n for n, t in enumerate(tables) if isinstance(t, dict) and t.get("name") == table), None)
    return f"sources[{found[0]}].tables[{index}]" if index is not None else f"sources[{found[0]}].tables"


def _suffix_issues(
    file: Path, raw_files: dict[Path, Any], source_name: str, read: list[str], suffix_var: str
) -> list[ConfigIssue]:
    found = _source_entry(file, raw_files, source_name)
    if found is None:
        return []
    index, entry = found
    schema = read[0].split(".")[0]
    raw = entry.get("schema", entry.get("name"))  # dbt's default schema is the source's name
    key = f"sources[{index}].schema"
    where = f"source '{source_name}' (reads SQLMesh model{'s' if len(read) > 1 else ''} {', '.join(sorted(read))})"
    wanted = f"schema: \"{schema}{{{{ var('{suffix_var}', '') }}}}\""
    rendered, other_vars, error = render_schema(str(raw), suffix_var)
    if error:
        return [
            ConfigIssue(
                file,
                key,
                f"{where}: its schema {raw!r} cannot be rendered to check which SQLMesh environment it reads: {error}",
                f"write {wanted}",
            )
        ]
    if rendered == f"{schema}{_PROBE}".lower():
        return []
    if _PROBE in rendered:
        return [
            ConfigIssue(
                file,
                key,
                f"{where}: its schema {raw!r} does not end with the dbt var '{suffix_var}' right after the schema name",
                f"write {wanted}",
            )
        ]
    if other_vars:
        names = ", ".join(f"'{v}'" for v in other_vars)
        return [
            ConfigIssue(
                file,
                key,
                f"{where}: its schema {raw!r} takes the suffix from dbt var {names}, but the provider passes the SQLMesh environment's suffix in '{suffix_var}', so every environment would read SQLMesh's prod views",
                f"write {wanted}, or set `dbt: {{sqlmesh_suffix_var: {other_vars[0]}}}` in dualengine.yml",
            )
        ]
    return [
        ConfigIssue(
            file,
            key,
            f"{where}: its schema {raw!r} is fixed, so every environment would read SQLMesh's prod views",
            f"write {wanted}",
        )
    ]


def render_schema(raw: str, suffix_var: str) -> tuple[str, list[str], str]:
    """(schema rendered with `suffix_var` = a probe value, other vars it read, error)."""
    import jinja2

    others: list[str] = []

    def var(name: str, default: Any = "") -> Any:
        if name == suffix_var:
            return _PROBE
        others.append(name)
        return default

    def env_var(name: str, default: str = "") -> str:
        return default

    try:
        text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(raw).render(var=var, env_var=env_var)
    except jinja2.TemplateError as exc:
        return "", others, f"{type(exc).__name__}: {exc}"
    return text.strip().lower(), others, ""
