"""Strict YAML reading: syntax errors and duplicate keys become ConfigIssues with line numbers.

PyYAML silently keeps the last of two equal keys; for a dependency graph that would
drop a whole stage without a word, so duplicates are an error here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from airflow_provider_dualengine.config.errors import ConfigIssue


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


# libyaml's scanner when PyYAML was built with it: the pure-Python one spends most of a
# large dependency graph's parse time computing marks (0.6 s for 1,000 models).
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                continue  # a list or mapping as key: the base class reports it with its line
            if key in first_seen:
                raise _DuplicateKey(
                    problem=f"duplicate key '{key}' (first defined on line {first_seen[key]})",
                    problem_mark=key_node.start_mark,
                )
            first_seen[key] = line
        return super().construct_mapping(node, deep=deep)


def yaml_files_in(folder: Path) -> list[Path]:
    """The folder's `*.yml` and `*.yaml` files, sorted; none when it does not exist."""
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def read_text(path: Path, what: str = "file") -> tuple[str | None, list[ConfigIssue]]:
    """The file's text, or None and an issue: missing, a folder, unreadable, not UTF-8."""
    if path.is_dir():
        return None, [ConfigIssue(path, "", f"is a folder, not a {what}", "point the setting at the file itself")]
    if not path.is_file():
        return None, [ConfigIssue(path, "", f"{what} not found", "create it or fix the path in dualengine.yml")]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [ConfigIssue(path, "", f"cannot be read: {exc.strerror or exc}", "check the file's permissions")]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            ConfigIssue(
                path,
                f"line {line}",
                f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
                "save it as UTF-8 text, or check that this is the file meant (a YAML text file is expected here)",
            )
        ]


def read_yaml(path: Path) -> tuple[Any, list[ConfigIssue]]:
    """Return the parsed document, or None and the issues that stop it from parsing."""
    text, issues = read_text(path)
    if text is None:
        return None, issues
    try:
        return yaml.load(text, Loader=_StrictLoader), []
    except _DuplicateKey as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        return None, [
            ConfigIssue(
                path,
                f"line {line}",
                exc.problem or "duplicate key",
                "each key may appear once; rename or merge the two entries",
            )
        ]
    except yaml.reader.ReaderError as exc:  # a control character: no mark, a position
        line = text[: exc.position].count("\n") + 1
        return None, [
            ConfigIssue(
                path,
                f"line {line}",
                f"invalid YAML: {str(exc).splitlines()[0]}",
                "remove the control character (is this really a YAML text file?)",
            )
        ]
    except yaml.YAMLError as exc:
        return None, [yaml_syntax_issue(path, exc, text)]


def yaml_syntax_issue(
    path: Path, exc: yaml.YAMLError, text: str, hint: str = "fix the YAML syntax (indentation, quotes, colons)"
) -> ConfigIssue:
    """A YAML syntax error as an issue at its line and column."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if (
        mark
        and "cannot start any token" in problem
        and text.splitlines()[mark.line : mark.line + 1]
        and text.splitlines()[mark.line][mark.column : mark.column + 1] == "\t"
    ):
        return ConfigIssue(
            path, where, "invalid YAML: a tab character; YAML indents with spaces", "replace the tab by spaces"
        )
    return ConfigIssue(path, where, f"invalid YAML: {problem}", hint)


def key_path(loc: tuple[int | str, ...]) -> str:
    """('dependency_graph', 'stage_1', 'depends_on', 0) -> 'dependency_graph.stage_1.depends_on[0]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_HINTS = {
    "extra_forbidden": "remove the key or check its spelling",
    "missing": "add the key",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use letters, digits and underscores (dots between schema and model)",
    "dict_type": "write it as a mapping (`key: value` lines), not a list or a single value",
    "model_type": "write it as a mapping (`key: value` lines), not a list or a single value",
    "list_type": "write it as a list (`[a, b]` or `- a` lines)",
    "string_type": "write it as text (quote it if YAML reads it as a number, a date or a boolean)",
    "bool_parsing": "use true or false",
    "bool_type": "use true or false",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "too_short": "give at least one entry",
    "empty_path": "give the folder or file relative to dualengine.yml (e.g. `sqlmesh: {path: sqlmesh}`), or remove the key for the default",
}


# (key, error type) -> hint, where the generic hint would mislead.
_KEY_HINTS = {
    (
        "environment_suffix",
        "string_pattern_mismatch",
    ): 'start it with an underscore, e.g. "_dev" (views in <schema>__dev), or "" for SQLMesh\'s prod',
}

_EXPECTED = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "list_type": "a list",
    "string_type": "text",
}


def _shape(data: Any) -> str:
    if isinstance(data, dict):
        return "a mapping"
    return {list: "a list", str: "a single text value", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(data), type(data).__name__
    )


def validate_document(model: type[BaseModel], data: Any, path: Path, prefix: tuple[str, ...] = ()):
    """Validate `data` against `model`; return (instance or None, issues).

    An empty document and a document that is not a mapping are one issue each, not one
    "Field required" per key the model has."""
    keys = ", ".join(f"{name}:" for name, field in model.model_fields.items() if field.is_required()) or "its settings"
    if data is None:
        return None, [
            ConfigIssue(
                path,
                key_path(prefix),
                "the file is empty (or only comments)",
                f"write the document: a mapping with {keys}",
            )
        ]
    if not isinstance(data, dict):
        return None, [
            ConfigIssue(
                path,
                key_path(prefix),
                f"the document is {_shape(data)}, not a mapping of keys",
                f"write it as `key: value` lines with {keys}",
            )
        ]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_url=False):
            loc = tuple(part for part in err["loc"] if not str(part).startswith("function-"))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] in _EXPECTED and "input" in err:
                found = _shape(err["input"]) if err["input"] is not None else "nothing (null)"
                message = f"expected {_EXPECTED[err['type']]}, found {found}"
            hint = _KEY_HINTS.get((str(loc[-1]) if loc else "", err["type"])) or _HINTS.get(err["type"], "")
            issues.append(ConfigIssue(path, key_path(prefix + loc), message, hint))
        return None, issues
