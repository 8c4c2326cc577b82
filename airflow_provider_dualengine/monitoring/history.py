"""Run history of both engines, kept in the warehouse (`dualengine.run_history`).

One row per model execution (a SQLMesh model evaluated by a stage run, a dbt model built
by `dbt build`) and per contract check, appended by the task that ran it: what each engine
reported (status, start and end, seconds, rows, bytes, tests or audits passed and failed,
its failure message) under the Airflow run that caused it. Cost, metrics, alerts and the
report are all computed from these rows (and from `dualengine.deployments`).

A task writes its rows once, in one transaction that first deletes what an earlier try of
the same task wrote for the same models: a retry replaces those rows, never adds to them. Recording never
fails a pipeline (`engine_records.record_task_history` logs why a write failed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from airflow_provider_dualengine.engines.redact import redact
from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse

SCHEMA = "dualengine"
TABLE = "run_history"
KINDS = ("model", "contract_check")
STATUSES = ("success", "failed", "skipped")
MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class RunRecord:
    """One execution, as the table stores it (times UTC, naive in the table)."""

    kind: str  # "model" or "contract_check"
    engine: str  # "sqlmesh" or "dbt" (a contract check: its producer's engine)
    environment: str  # the dual-engine environment (development, production, ...)
    model: str
    status: str  # "success", "failed" or "skipped"
    dag_id: str
    run_id: str
    task_id: str
    try_number: int = 1
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_s: float | None = None
    rows: int | None = None
    rows_source: str | None = None  # "engine" (the engine reported it) or "count" (counted after)
    bytes: int | None = None  # where the engine/adapter reports bytes processed
    tests_passed: int = 0  # dbt tests, SQLMesh audits or contract checks
    tests_failed: int = 0
    sla_met: bool | None = None  # a contract check's freshness SLA: met or not; None without one
    data_age_s: float | None = None  # a contract check: seconds since the producer last wrote the data
    query_tag: str | None = None  # the tag the engine's queries carried, where the warehouse has one
    message: str | None = None  # the failure, as the engine reported it (secrets redacted)


COLUMNS = tuple(f.name for f in fields(RunRecord))
_DDL = (
    "kind TEXT NOT NULL, engine TEXT NOT NULL, environment TEXT NOT NULL, model TEXT NOT NULL, "
    "status TEXT NOT NULL, dag_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL, "
    "try_number INTEGER NOT NULL, started_at TIMESTAMP, ended_at TIMESTAMP, duration_s DOUBLE PRECISION, "
    "rows BIGINT, rows_source TEXT, bytes BIGINT, tests_passed INTEGER NOT NULL, tests_failed INTEGER NOT NULL, sla_met BOOLEAN, data_age_s DOUBLE PRECISION, "
    "query_tag TEXT, message TEXT, recorded_at TIMESTAMP NOT NULL"
)


def ensure_table(warehouse: Warehouse) -> None:
    warehouse.create_table_if_missing(SCHEMA, TABLE, _DDL)


def record(warehouse: Warehouse, records: Sequence[RunRecord], secrets: Iterable[str] = ()) -> None:
    """Replace what the tasks of `records` wrote before (an earlier try) by `records`."""
    if not records:
        return
    ensure_table(warehouse)
    table = warehouse.quote(SCHEMA, TABLE)
    insert = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}, recorded_at) VALUES ({', '.join([PARAM] * (len(COLUMNS) + 1))})"
    )
    now = _naive(datetime.now(UTC))
    secrets = list(secrets)
    with warehouse.transaction():
        # Per model: a SQLMesh retry evaluates only what is still missing, so the rows of the
        # models an earlier try completed stay.
        for key in dict.fromkeys((r.dag_id, r.run_id, r.task_id, r.kind, r.model) for r in records):
            warehouse.execute(
                f"DELETE FROM {table} WHERE dag_id = {PARAM} AND run_id = {PARAM} AND task_id = {PARAM}"
                f" AND kind = {PARAM} AND model = {PARAM}",
                list(key),
            )
        for r in records:
            row = asdict(r)
            row["started_at"], row["ended_at"] = _naive(r.started_at), _naive(r.ended_at)
            if r.message:
                row["message"] = redact(r.message, secrets)[:MESSAGE_LIMIT]
            warehouse.execute(insert, [*(row[c] for c in COLUMNS), now])


def read(warehouse: Warehouse, since: datetime | None = None, environment: str | None = None) -> list[dict[str, Any]]:
    """Rows (oldest first) recorded since `since`, of one environment or all; [] before any."""
    if not warehouse.table_exists(SCHEMA, TABLE):
        return []
    where: list[str] = []
    params: list[Any] = []
    if since is not None:  # a model that failed before it ran has only its recording time
        where.append(f"COALESCE(started_at, recorded_at) >= {PARAM}")
        params.append(_naive(since))
    if environment is not None:
        where.append(f"environment = {PARAM}")
        params.append(environment)
    sql = f"SELECT {', '.join(COLUMNS)}, recorded_at FROM {warehouse.quote(SCHEMA, TABLE)}"
    sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY COALESCE(started_at, recorded_at), model"
    rows = []
    for values in warehouse.rows(sql, params):
        row = dict(zip((*COLUMNS, "recorded_at"), values, strict=True))
        for key in ("started_at", "ended_at", "recorded_at"):
            row[key] = row[key].replace(tzinfo=UTC) if row[key] is not None else None
        rows.append(row)
    return rows


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)
