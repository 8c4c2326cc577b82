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
            if key in first_seen:
                raise _DuplicateKey(
                    problem=f"duplicate key '{key}' (first defined on line {first_seen[key]})",
                    problem_mark=key_node.start_mark,
                )
            first_seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> tuple[Any, list[ConfigIssue]]:
    """Return the parsed document, or None and the issues that stop it from parsing."""
    if not path.is_file():
        return None, [ConfigIssue(path, "", "file not found", "create it or fix the path in dualengine.yml")]
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader), []
    except _DuplicateKey as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        return None, [ConfigIssue(path, f"line {line}", exc.problem or "duplicate key", "each key may appear once; rename or merge the two entries")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ConfigIssue(path, where, f"invalid YAML: {problem}", "fix the YAML syntax (indentation, quotes, colons)")]


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
}


def validate_document(model: type[BaseModel], data: Any, path: Path, prefix: tuple[str, ...] = ()):
    """Validate `data` against `model`; return (instance or None, issues)."""
    try:
        return model.model_validate(data if data is not None else {}), []
    except ValidationError as exc:
        issues = []
        for err in exc.errors(include_url=False):
            loc = tuple(part for part in err["loc"] if not str(part).startswith("function-"))
            message = err["msg"].removeprefix("Value error, ")
            issues.append(ConfigIssue(path, key_path(prefix + loc), message, _HINTS.get(err["type"], "")))
        return None, issues
