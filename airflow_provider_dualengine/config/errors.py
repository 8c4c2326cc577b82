"""One error type for every configuration problem, naming file, key, problem and fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ConfigIssue:
    """A single problem: where it is (file and key path), what is wrong, what to do."""

    file: Path | None
    key: str
    message: str
    hint: str = ""

    def render(self) -> str:
        where = f"{self.file}" if self.file else "<project>"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text}\n    fix: {self.hint}" if self.hint else text


def unknown_environment(file: Path | None, key: str, name: str, environments: set[str]) -> ConfigIssue:
    """A per-environment setting for an environment the project does not define."""
    return ConfigIssue(
        file,
        key,
        f"unknown environment '{name}'",
        f"use one of the project's environments: {', '.join(sorted(environments))}",
    )


class DualEngineConfigError(ValueError):
    """Raised with every issue found, so one run of `validate` shows them all."""

    def __init__(self, issues: list[ConfigIssue]):
        if not issues:
            raise ValueError("DualEngineConfigError needs at least one issue")
        self.issues = list(issues)
        count = len(self.issues)
        header = f"{count} problem{'s' if count > 1 else ''} in the dual-engine project configuration:"
        super().__init__("\n".join([header, *(f"- {issue.render()}" for issue in self.issues)]))
