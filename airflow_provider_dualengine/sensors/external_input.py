"""Wait for an upstream that lives outside both engines (`source_data` in dependency_graph.yml)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator


class ExternalInputSensor(BaseSensorOperator):
    """Succeeds once every path (or glob) matches at least one non-empty file."""

    custom_operator_name = "External input"

    template_fields: Sequence[str] = ("paths",)
    ui_color = "#e0f2fe"

    def __init__(self, *, paths: list[str], base_dir: str | None = None, **kwargs: Any):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.paths = paths
        self.base_dir = base_dir

    def _matches(self, pattern: str) -> list[Path]:
        full = Path(pattern) if Path(pattern).is_absolute() or not self.base_dir else Path(self.base_dir) / pattern
        return [p for p in map(Path, glob.glob(str(full))) if p.is_file() and p.stat().st_size > 0]

    def poke(self, context: Any) -> bool:
        missing = [pattern for pattern in self.paths if not self._matches(pattern)]
        if missing:
            self.log.info("Waiting for external input files: %s", ", ".join(missing))
            return False
        self.log.info("All %d external input paths are present", len(self.paths))
        return True
