"""One finding of engine selection, layer/domain separation or naming lint.

Shared by `dualengine engines`, `dualengine lint` and `dualengine validate`: each names the
model, the rule that fired and why, where to fix it, and whether it fails the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from airflow_provider_dualengine.config.errors import ConfigIssue

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    rule: str  # e.g. "engine_selection.mismatch", "layers.presentation", "naming.dbt_models.prefix"
    model: str  # `engine:name`, or "" for a finding about a file
    message: str  # what is wrong and why (the rule's reason)
    fix: str  # what to do
    file: Path | None = None  # the model's file (or the config file, for a config finding)

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{self.severity}: {where}{self.model + ': ' if self.model else ''}{self.message} [{self.rule}]\n    fix: {self.fix}"

    def to_json(self) -> dict[str, str | None]:
        return {
            "severity": self.severity,
            "rule": self.rule,
            "model": self.model,
            "message": self.message,
            "fix": self.fix,
            "file": str(self.file) if self.file else None,
        }

    def as_issue(self, config_file: Path, key: str) -> ConfigIssue:
        """An error finding as the configuration error `dualengine validate` raises."""
        return ConfigIssue(self.file or config_file, key, f"{self.model}: {self.message}", self.fix)
