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
        full = self._full(pattern)
        return [p for p in map(Path, glob.glob(str(full))) if p.is_file() and p.stat().st_size > 0]

    def literal_files(self) -> list[str]:
        """Absolute paths of the patterns that name one file (no glob characters): known at
        parse time, so they can be declared as the task's inlet Assets."""
        return [str(self._full(p)) for p in self.paths if not glob.has_magic(p)]

    def _full(self, pattern: str) -> Path:
        return Path(pattern) if Path(pattern).is_absolute() or not self.base_dir else Path(self.base_dir) / pattern

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The files found, named as the SQLMesh seed models that load them name their
        inputs (engines/openlineage.file_dataset), so lineage starts at the landed files."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from airflow_provider_dualengine.engines.openlineage import file_dataset, unique_datasets

        found = [file_dataset(str(path)) for pattern in self.paths for path in self._matches(pattern)]
        return OperatorLineage(inputs=unique_datasets(found))

    def poke(self, context: Any) -> bool:
        missing = [pattern for pattern in self.paths if not self._matches(pattern)]
        if missing:
            self.log.info("Waiting for external input files: %s", ", ".join(missing))
            return False
        self.log.info("All %d external input paths are present", len(self.paths))
        return True
