"""Per-model outcomes of one SQLMesh plan/run, recorded through SQLMesh's console hooks.

The engine runs once per stage; this console listens to the scheduler's per-snapshot
callbacks so each model's Airflow task can report its own result without loading SQLMesh.
"""

from __future__ import annotations

import logging
import time
import typing as t
from dataclasses import asdict, dataclass, field

from sqlmesh.core.console import NoopConsole

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name

log = logging.getLogger(__name__)

SUCCESS, FAILED, SKIPPED = "success", "failed", "skipped"


@dataclass
class ModelOutcome:
    status: str = SUCCESS
    intervals: int = 0
    duration_ms: int = 0
    audits_passed: int = 0
    audits_failed: int = 0
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    rows: int | None = None  # rows processed, where SQLMesh's engine adapter reports them
    bytes: int | None = None  # bytes processed, likewise


@dataclass
class OutcomeRecorder(NoopConsole):
    """A SQLMesh console that keeps what happened to each model, keyed 'schema.table'."""

    outcomes: dict[str, ModelOutcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def _outcome(self, fqn: str) -> ModelOutcome:
        return self.outcomes.setdefault(plain_name(fqn), ModelOutcome())

    def start_snapshot_evaluation_progress(self, snapshot: t.Any, audit_only: bool = False) -> None:
        outcome = self._outcome(snapshot.name)
        outcome.started_at = outcome.started_at or time.time()

    def update_snapshot_evaluation_progress(
        self,
        snapshot: t.Any,
        interval: t.Any,
        batch_idx: int,
        duration_ms: int | None,
        num_audits_passed: int,
        num_audits_failed: int,
        *args: t.Any,
        **kwargs: t.Any,
    ) -> None:
        outcome = self._outcome(snapshot.name)
        outcome.intervals += 1
        outcome.duration_ms += duration_ms or 0
        outcome.audits_passed += num_audits_passed
        outcome.audits_failed += num_audits_failed
        outcome.finished_at = time.time()
        stats = kwargs.get("execution_stats") or (args[1] if len(args) > 1 else None)
        for field_name, reported in (
            ("rows", getattr(stats, "total_rows_processed", None)),
            ("bytes", getattr(stats, "total_bytes_processed", None)),
        ):
            if reported is not None:
                setattr(outcome, field_name, (getattr(outcome, field_name) or 0) + int(reported))

    def log_failed_models(self, errors: list[t.Any]) -> None:
        for error in errors:
            outcome = self._outcome(error.node.snapshot_name)
            outcome.status = FAILED
            cause = error.__cause__ or error
            outcome.error = f"{type(cause).__name__}: {cause}"[:2000]

    def log_skipped_models(self, snapshot_names: set[str]) -> None:
        for name in snapshot_names:
            outcome = self._outcome(name)
            if outcome.status != FAILED:
                outcome.status = SKIPPED

    def log_error(self, message: str, *args: t.Any, **kwargs: t.Any) -> None:
        log.error("SQLMesh: %s", message)

    def log_warning(self, short_message: str, long_message: str | None = None, *args: t.Any, **kwargs: t.Any) -> None:
        log.warning("SQLMesh: %s", long_message or short_message)

    def as_dict(self) -> dict[str, dict[str, t.Any]]:
        return {name: asdict(outcome) for name, outcome in sorted(self.outcomes.items())}

    def failed(self) -> list[str]:
        return sorted(name for name, o in self.outcomes.items() if o.status == FAILED)
