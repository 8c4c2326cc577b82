"""What each engine reported about a task's executions, as run history records.

SQLMesh's outcomes come from our console recorder (engines/sqlmesh/outcomes.py: start and
end of each model's evaluation, audits, rows and bytes where its engine adapter reports
them); dbt's from `run_results.json` (engines/dbt/build.py: execute timing, adapter's
rows_affected, tests). Where the engine reports no row count for a built model, the task
counts the rows of the relation it wrote (`rows_source = "count"`), so every successful
execution carries its size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from airflow_provider_dualengine.monitoring.history import RunRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskRun:
    """The Airflow task instance the records belong to."""

    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    environment: str

    @classmethod
    def from_context(cls, context: Mapping[str, Any], environment: str) -> TaskRun:
        ti = context["ti"]
        return cls(ti.dag_id, ti.run_id, ti.task_id, int(getattr(ti, "try_number", 1) or 1), environment)

    def record(self, **fields: Any) -> RunRecord:
        return RunRecord(
            dag_id=self.dag_id,
            run_id=self.run_id,
            task_id=self.task_id,
            try_number=self.try_number,
            environment=self.environment,
            **fields,
        )


def sqlmesh_records(task: TaskRun, models: Mapping[str, Mapping[str, Any]]) -> list[RunRecord]:
    """One record per model SQLMesh evaluated or skipped in this run (the recorder's dicts)."""
    records = []
    for name, outcome in sorted(models.items()):
        started, finished = _epoch(outcome.get("started_at")), _epoch(outcome.get("finished_at"))
        duration = (outcome.get("duration_ms") or 0) / 1000 if outcome.get("intervals") else None
        if duration is None and started and finished:
            duration = (finished - started).total_seconds()
        records.append(
            task.record(
                kind="model",
                engine="sqlmesh",
                model=name,
                status=outcome.get("status") or "success",
                started_at=started,
                ended_at=finished,
                duration_s=round(duration, 3) if duration is not None else None,
                rows=outcome.get("rows"),
                rows_source="engine" if outcome.get("rows") is not None else None,
                bytes=outcome.get("bytes"),
                tests_passed=int(outcome.get("audits_passed") or 0),
                tests_failed=int(outcome.get("audits_failed") or 0),
                message=outcome.get("error"),
            )
        )
    return records


def dbt_records(task: TaskRun, models: Mapping[str, Mapping[str, Any]]) -> list[RunRecord]:
    """One record per model `dbt build` built, failed or skipped (engines/dbt/build.py outcomes)."""
    records = []
    for name, outcome in sorted(models.items()):
        status = {"success": "success", "skipped": "skipped"}.get(outcome.get("status") or "", "failed")
        failed_tests = outcome.get("tests_failed") or []
        message = outcome.get("message") if status != "success" and outcome.get("status") == "error" else None
        if failed_tests:
            message = "; ".join(f"{t['test']}: {t['message']}" for t in failed_tests)
        rows = outcome.get("rows_affected")
        rows = rows if isinstance(rows, int) and rows >= 0 else None
        records.append(
            task.record(
                kind="model",
                engine="dbt",
                model=name,
                status=status,
                started_at=_iso(outcome.get("started_at")),
                ended_at=_iso(outcome.get("completed_at")),
                duration_s=outcome.get("execution_s"),
                rows=rows,
                rows_source="engine" if rows is not None else None,
                bytes=outcome.get("bytes_processed") if isinstance(outcome.get("bytes_processed"), int) else None,
                tests_passed=int(outcome.get("tests_passed") or 0),
                tests_failed=len(failed_tests),
                message=message,
            )
        )
    return records


def count_missing_rows(warehouse: Any, records: list[RunRecord], relations: Mapping[str, str]) -> list[RunRecord]:
    """Records of successful executions without an engine row count, counted in the relation
    each model wrote (`relations`: model -> `schema.table` in this environment). A relation
    that cannot be counted keeps no count (logged): history is never worth a failed task."""
    counted = []
    for r in records:
        relation = relations.get(r.model)
        if r.status == "success" and r.rows is None and relation:
            try:
                schema, table = relation.split(".", 1)
                r = replace(r, rows=warehouse.row_count(schema, table), rows_source="count")
            except Exception as exc:  # noqa: BLE001 - see docstring
                log.warning("no row count for %s (%s): %s", r.model, relation, exc)
        counted.append(r)
    return counted


def record_task_history(
    conn_id: str,
    records: Sequence[RunRecord] | Callable[[], Sequence[RunRecord]],
    relations: Mapping[str, str] | None = None,
    logger: Any = log,
) -> bool:
    """Send the records' metrics (monitoring/stats.py), count what the engine did not, then
    write the task's records (history.record); `records` may be a function building them. A failure is logged, never raised: the
    pipeline's outcome does not depend on its history. True when written."""
    if callable(records):  # built here, so that a surprising engine value is logged too
        try:
            records = records()
        except Exception as exc:  # noqa: BLE001 - see docstring
            logger.warning("run history not recorded: %s: %s", type(exc).__name__, exc)
            return False
    records = list(records)
    if not records:
        return True
    from airflow_provider_dualengine.monitoring.stats import emit_records

    emit_records(records)  # Airflow's StatsD/OpenTelemetry, as the cluster configures it; never raises
    try:
        from airflow_provider_dualengine.engines.redact import connection_secrets
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook
        from airflow_provider_dualengine.monitoring.history import record

        hook = WarehouseHook(conn_id)
        with hook.session(autocommit=True) as warehouse:
            records = count_missing_rows(warehouse, records, relations or {})
            record(warehouse, records, connection_secrets(hook.connection))
        return True
    except Exception as exc:  # noqa: BLE001 - see docstring
        logger.warning(
            "run history not recorded (%d rows of task %s): %s: %s",
            len(records),
            records[0].task_id,
            type(exc).__name__,
            exc,
        )
        return False


def record_cosmos_results(project_dir: str, *, context: Any, conn_id: str, history: dict[str, Any]) -> None:
    """Cosmos callback (DbtTaskGroup operator_args `callback`): record what the dbt run of
    a Cosmos task reported, from the `run_results.json` and `manifest.json` it left in its
    temporary project. Cosmos calls it after a successful dbt command only."""
    import json
    from pathlib import Path

    from airflow_provider_dualengine.engines.dbt.build import model_outcomes

    try:
        target = Path(project_dir) / "target"
        run_results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
        manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
        outcomes = model_outcomes(run_results, manifest)["models"]
        records = dbt_records(TaskRun.from_context(context, history["environment"]), outcomes)
    except Exception as exc:  # noqa: BLE001 - history never fails a task
        log.warning("run history not recorded for the Cosmos task: %s: %s", type(exc).__name__, exc)
        return
    record_task_history(conn_id, records, history.get("relations"))


def _epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value else None


def _iso(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
