"""Durable deployment records, kept in the warehouse itself (`dualengine.deployments`).

One row per deployment: environment, who triggered it, what each engine deployed
(`sqlmesh_version`: plan id or fingerprint summary; `dbt_version`: manifest hash or slot),
its status and its stages as JSON text (a list of {stage, outcome, started_at,
finished_at, message}). Every write is committed at once, so the record survives a crash
of the deployment it describes. Works on a warehouse session of DuckDB or PostgreSQL;
timestamps are stored as UTC (TIMESTAMP without zone) and returned timezone-aware.

Deployments write through a `RecordWriter`, which redacts the warehouse connection's
secrets from every text it stores: summaries and stage messages quote exception texts,
and driver errors can quote a connection string or a password.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from airflow_provider_dualengine.engines.redact import redact
from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse

SCHEMA = "dualengine"
TABLE = "deployments"
STATUSES = ("running", "succeeded", "failed", "rolled_back", "interrupted")
COLUMNS = (
    "id",
    "environment",
    "started_at",
    "finished_at",
    "status",
    "triggered_by",
    "sqlmesh_version",
    "dbt_version",
    "stages",
    "details",
)
# details holding engine names and digests (read back by a rollback), never free text:
# left as they are by the redaction, which could otherwise mask part of a name.
ENGINE_FIELDS = frozenset({"format", "before", "target", "sqlmesh_state_before", "checksums_before", "checksums_after"})


class DeploymentRecordError(LookupError):
    """No such deployment, or a status outside STATUSES."""


def ensure_table(warehouse: Warehouse) -> None:
    """Create `dualengine.deployments` if missing."""
    warehouse.create_table_if_missing(
        SCHEMA,
        TABLE,
        "id TEXT PRIMARY KEY, environment TEXT NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, "
        "status TEXT NOT NULL, triggered_by TEXT, sqlmesh_version TEXT, dbt_version TEXT, stages TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}'",
    )


def start(
    warehouse: Warehouse,
    deployment_id: str,
    environment: str,
    triggered_by: str,
    sqlmesh_version: str | None,
    dbt_version: str | None,
) -> None:
    """Record a deployment as running, now (the id must be new)."""
    ensure_table(warehouse)
    sql = f"INSERT INTO {_table(warehouse)} (id, environment, started_at, status, triggered_by, sqlmesh_version, dbt_version, stages, details) VALUES ({PARAM}, {PARAM}, {PARAM}, 'running', {PARAM}, {PARAM}, {PARAM}, '[]', '{{}}')"
    with warehouse.transaction():
        warehouse.execute(
            sql, [deployment_id, environment, _utc_naive(_now()), triggered_by, sqlmesh_version, dbt_version]
        )


def record_stage(
    warehouse: Warehouse,
    deployment_id: str,
    stage: str,
    outcome: str,
    started_at: datetime,
    finished_at: datetime,
    message: str = "",
) -> None:
    """Append one stage's outcome to the deployment's stages."""
    with warehouse.transaction():
        stages = _locked_json(warehouse, deployment_id, "stages")
        stages.append(
            {
                "stage": stage,
                "outcome": outcome,
                "started_at": _iso(started_at),
                "finished_at": _iso(finished_at),
                "message": message,
            }
        )
        warehouse.execute(
            f"UPDATE {_table(warehouse)} SET stages = {PARAM} WHERE id = {PARAM}", [json.dumps(stages), deployment_id]
        )


def update(warehouse: Warehouse, deployment_id: str, **fields: Any) -> None:
    """Merge `fields` into the deployment's details (JSON: slots, saved prod state,
    checksums, promotion window); `sqlmesh_version`/`dbt_version` update their columns."""
    with warehouse.transaction():
        columns = {k: fields.pop(k) for k in ("sqlmesh_version", "dbt_version") if k in fields}
        details = {**_locked_json(warehouse, deployment_id, "details"), **fields}
        sets = ", ".join([f"details = {PARAM}", *(f"{k} = {PARAM}" for k in columns)])
        warehouse.execute(
            f"UPDATE {_table(warehouse)} SET {sets} WHERE id = {PARAM}",
            [json.dumps(details, default=str), *columns.values(), deployment_id],
        )


def get(warehouse: Warehouse, deployment_id: str) -> dict[str, Any]:
    """One deployment record; raises DeploymentRecordError if there is none."""
    ensure_table(warehouse)
    warehouse.execute(f"SELECT {', '.join(COLUMNS)} FROM {_table(warehouse)} WHERE id = {PARAM}", [deployment_id])
    row = warehouse.fetchone()
    if row is None:
        raise DeploymentRecordError(f"no deployment '{deployment_id}'")
    return _record(row)


def exists(warehouse: Warehouse, deployment_id: str) -> bool:
    """Whether a record of `deployment_id` was written."""
    if not warehouse.table_exists(SCHEMA, TABLE):
        return False
    return bool(warehouse.rows(f"SELECT 1 FROM {_table(warehouse)} WHERE id = {PARAM}", [deployment_id]))


def running(warehouse: Warehouse, environment: str) -> list[dict[str, Any]]:
    """Deployments of `environment` still marked running (their process may have died)."""
    ensure_table(warehouse)
    warehouse.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {_table(warehouse)} WHERE environment = {PARAM} AND status = 'running' ORDER BY started_at",
        [environment],
    )
    return [_record(row) for row in warehouse.fetchall()]


def finish(warehouse: Warehouse, deployment_id: str, status: str, summary: str | None = None) -> None:
    """Set the final status (succeeded, failed, rolled_back, interrupted), the finish time
    and, optionally, a one-line summary of what happened (details.summary)."""
    if status not in STATUSES or status == "running":
        raise DeploymentRecordError(f"final status must be one of {STATUSES[1:]}, not '{status}'")
    with warehouse.transaction():
        warehouse.execute(
            f"UPDATE {_table(warehouse)} SET status = {PARAM}, finished_at = {PARAM} WHERE id = {PARAM}",
            [status, _utc_naive(_now()), deployment_id],
        )
        warehouse.execute(f"SELECT count(*) FROM {_table(warehouse)} WHERE id = {PARAM}", [deployment_id])
        if warehouse.fetchone()[0] == 0:
            raise DeploymentRecordError(f"no deployment '{deployment_id}'")
    if summary is not None:
        update(warehouse, deployment_id, summary=summary)


def list_deployments(warehouse: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """The latest deployments, newest first."""
    ensure_table(warehouse)
    warehouse.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {_table(warehouse)} ORDER BY started_at DESC, id DESC LIMIT {PARAM}",
        [int(limit)],
    )
    return [_record(row) for row in warehouse.fetchall()]


def read_deployments(warehouse: Warehouse, limit: int = 20) -> list[dict[str, Any]]:
    """`list_deployments` for readers (read-only sessions): none, and no table created,
    before the first deployment."""
    return list_deployments(warehouse, limit) if warehouse.table_exists(SCHEMA, TABLE) else []


def last_succeeded(warehouse: Warehouse, environment: str) -> dict[str, Any] | None:
    """The most recently finished successful deployment of `environment`, if any."""
    ensure_table(warehouse)
    sql = f"SELECT {', '.join(COLUMNS)} FROM {_table(warehouse)} WHERE environment = {PARAM} AND status = 'succeeded' ORDER BY finished_at DESC, started_at DESC LIMIT 1"
    warehouse.execute(sql, [environment])
    row = warehouse.fetchone()
    return _record(row) if row else None


class RecordWriter:
    """Every write of a deployment's record, with the warehouse connection's secrets
    redacted from all text first (everything but ENGINE_FIELDS)."""

    def __init__(self, warehouse: Warehouse, secrets: Iterable[str] = ()):
        self.warehouse, self.secrets = warehouse, tuple(secrets)

    def start(
        self,
        deployment_id: str,
        environment: str,
        triggered_by: str,
        sqlmesh_version: str | None,
        dbt_version: str | None,
    ) -> None:
        start(
            self.warehouse,
            deployment_id,
            environment,
            self.clean(triggered_by),
            self.clean(sqlmesh_version),
            self.clean(dbt_version),
        )

    def stage(
        self,
        deployment_id: str,
        stage: str,
        outcome: str,
        started_at: datetime,
        finished_at: datetime,
        message: str = "",
    ) -> None:
        record_stage(self.warehouse, deployment_id, stage, outcome, started_at, finished_at, self.clean(message))

    def update(self, deployment_id: str, **fields: Any) -> None:
        update(
            self.warehouse,
            deployment_id,
            **{k: v if k in ENGINE_FIELDS else self.clean(v) for k, v in fields.items()},
        )

    def finish(self, deployment_id: str, status: str, summary: str) -> str:
        """Close the record with a one-line summary; returns it as stored (redacted)."""
        cleaned = redact(summary, self.secrets)
        finish(self.warehouse, deployment_id, status, cleaned)
        return cleaned

    def clean(self, value: Any) -> Any:
        """`value` with every string in it (keys too) redacted."""
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {self.clean(k): self.clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.clean(v) for v in value]
        return value


def _locked_json(warehouse: Warehouse, deployment_id: str, column: str) -> Any:
    """A JSON column of one deployment, read inside the caller's transaction and locked
    against concurrent writers on PostgreSQL; raises if the deployment does not exist."""
    lock = " FOR UPDATE" if warehouse.dialect == "postgres" else ""
    warehouse.execute(f"SELECT {column} FROM {_table(warehouse)} WHERE id = {PARAM}{lock}", [deployment_id])
    row = warehouse.fetchone()
    if row is None:
        raise DeploymentRecordError(f"no deployment '{deployment_id}'")
    return json.loads(row[0])


def _record(row: tuple) -> dict[str, Any]:
    record = dict(zip(COLUMNS, row, strict=True))
    record["started_at"] = _aware(record["started_at"])
    record["finished_at"] = _aware(record["finished_at"])
    record["stages"] = json.loads(record["stages"])
    record["details"] = json.loads(record["details"] or "{}")
    return record


def _table(warehouse: Warehouse) -> str:
    return warehouse.quote(SCHEMA, TABLE)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _iso(moment: datetime) -> str:
    return _utc_naive(moment).replace(tzinfo=UTC).isoformat()
