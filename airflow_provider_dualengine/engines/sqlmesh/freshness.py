"""Is a SQLMesh model's data complete up to a point in time, read from SQLMesh state only.

A sensor polls this, so it must be cheap: loading the project (a `Context`) takes seconds,
while the answer lives in a handful of state rows (the environment record, the model's
snapshot and its intervals). DuckDB state files admit one writer, and the writer may be
SQLMesh's own cron run: a locked file is "not ready yet", never an error.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.engines.connections import connect_duckdb_read_only

if TYPE_CHECKING:
    from sqlmesh.core.config import Config
    from sqlmesh.core.config.connection import ConnectionConfig
    from sqlmesh.core.engine_adapter import EngineAdapter
    from sqlmesh.core.environment import Environment
    from sqlmesh.core.snapshot import Snapshot
    from sqlmesh.core.state_sync import EngineAdapterStateSync


@dataclass(frozen=True)
class ModelFreshness:
    """The answer for one model, environment and target time.

    `complete_until` is the end of the model's contiguous intervals (exclusive, UTC), or None
    when nothing is complete; `ready` means they reach the last interval boundary at or
    before the target.
    """

    model: str
    environment: str
    target: datetime
    present: bool
    ready: bool
    complete_until: datetime | None
    reason: str
    snapshot: str | None = None
    # When SQLMesh last wrote the table this environment reads (its `last_altered_ts`):
    # what a contract's freshness SLA is measured against.
    last_altered: datetime | None = None

    def as_event(self) -> dict[str, Any]:
        """JSON-safe form for trigger events and XCom."""
        data = asdict(self)
        data["target"] = self.target.isoformat()
        data["complete_until"] = self.complete_until.isoformat() if self.complete_until else None
        data["last_altered"] = self.last_altered.isoformat() if self.last_altered else None
        return data


def model_freshness(
    config: Config, gateway: str | None, model: str, environment: str, target: datetime | str, *, cache_dir: Path
) -> ModelFreshness:
    """Read the gateway's SQLMesh state and decide whether `model` is complete up to `target` in `environment`.

    `cache_dir` is where SQLMesh caches parsed snapshots (the project's `.cache`, as a Context uses).
    """
    from sqlmesh.core.state_sync import EngineAdapterStateSync

    target_dt = _utc(target)
    result = partial(ModelFreshness, model, environment, target_dt)
    connection = config.get_state_connection(gateway) or config.get_connection(gateway)
    adapter = _state_adapter(connection)
    try:
        adapter.ping()  # connect now: SQLMesh's table_exists() would read a lock error as "no state"
        state = EngineAdapterStateSync(adapter, schema=config.get_state_schema(gateway), cache_dir=cache_dir)
        return _decide(state, model, environment, target_dt, result)
    except Exception as exc:
        busy = _busy_reason(exc)
        if busy is None:
            raise
        return result(present=False, ready=False, complete_until=None, reason=busy)
    finally:
        adapter.close()


def _decide(
    state: EngineAdapterStateSync, model: str, environment: str, target: datetime, result: Any
) -> ModelFreshness:
    from sqlmesh.core.environment import Environment

    absent = partial(result, present=False, ready=False, complete_until=None)
    if state.get_versions(validate=False).schema_version == 0:
        return absent(reason="no SQLMesh state yet (no plan was ever applied)")
    state.get_versions()  # raises if this SQLMesh cannot read that state
    env = state.get_environment(Environment.sanitize_name(environment))
    if env is None:
        return absent(reason=f"environment '{environment}' does not exist in SQLMesh state")
    matches = [info for info in env.snapshots if _same_table(info.name, model)]
    if len(matches) != 1:
        found = "is not in" if not matches else f"is ambiguous ({', '.join(sorted(m.name for m in matches))}) in"
        return absent(reason=f"model '{model}' {found} environment '{environment}'")
    info = matches[0]
    if env.expired:
        return result(
            present=True,
            ready=False,
            complete_until=None,
            reason=f"environment '{environment}' has expired",
            snapshot=info.name,
        )
    snapshot = state.get_snapshots([info.snapshot_id])[info.snapshot_id]
    prod_table = _reads_prod_intervals(state, env, snapshot)
    intervals = snapshot.intervals if prod_table else snapshot.dev_intervals
    altered = snapshot.last_altered_ts if prod_table else snapshot.dev_last_altered_ts
    result = partial(result, last_altered=_dt(altered) if altered else None)
    return _coverage(f"{model} in '{environment}'", snapshot, intervals, env, target, result)


def _coverage(
    name: str, snapshot: Snapshot, intervals: list[tuple[int, int]], env: Environment, target: datetime, result: Any
) -> ModelFreshness:
    """Ready when the contiguous intervals from the model's start reach the last boundary at or before `target`."""
    from sqlmesh.utils.date import make_exclusive, to_timestamp

    found = partial(result, present=True, snapshot=snapshot.name)
    if not snapshot.evaluatable:
        return found(
            ready=True,
            complete_until=None,
            reason=f"{name} is not materialized (kind {getattr(snapshot.model_kind_name, 'value', snapshot.model_kind_name)}): nothing to wait for",
        )
    if snapshot.is_seed and intervals:
        return found(ready=True, complete_until=_dt(intervals[-1][1]), reason=f"seed {name} is loaded")
    unit = snapshot.node.interval_unit
    assert unit is not None  # every evaluatable model has one
    starts = [to_timestamp(s) for s in (snapshot.node.start, env.start_at) if s]
    start_ts = to_timestamp(unit.cron_floor(max(starts))) if starts else (intervals[0][0] if intervals else 0)
    end_ts = to_timestamp(target) if snapshot.allow_partials else to_timestamp(unit.cron_floor(target))
    if snapshot.node.end:
        end_ts = min(end_ts, to_timestamp(make_exclusive(snapshot.node.end)))
    until = start_ts
    for low, high in sorted(intervals):
        if low > until:
            break
        until = max(until, high)
    complete_until = _dt(until) if until > start_ts else None
    needed = _dt(end_ts).isoformat()
    if end_ts <= start_ts:
        return found(
            ready=True,
            complete_until=complete_until,
            reason=f"{name} needs no interval before {target.isoformat()} (starts {_dt(start_ts).isoformat()})",
        )
    if until >= end_ts:
        return found(
            ready=True,
            complete_until=complete_until,
            reason=f"{name} is complete until {_dt(until).isoformat()} (needed {needed})",
        )
    done = (
        f"complete until {complete_until.isoformat()}"
        if complete_until
        else f"has no complete interval since {_dt(start_ts).isoformat()}"
    )
    return found(ready=False, complete_until=complete_until, reason=f"{name} is {done}; needed until {needed}")


def _reads_prod_intervals(state: EngineAdapterStateSync, env: Environment, snapshot: Snapshot) -> bool:
    """Which interval set SQLMesh itself reads for this snapshot in this environment.

    Prod always uses the deployable table. A dev environment may point at a dev-only table
    (forward-only or non-deployable changes), decided from the snapshot's upstream, which is
    fetched here level by level rather than the whole environment.
    """
    from sqlmesh.core import constants as c
    from sqlmesh.core.snapshot import DeployabilityIndex

    if env.name == c.PROD:
        return True
    upstream = {snapshot.snapshot_id: snapshot}
    pending = set(snapshot.parents)
    while pending:
        fetched = state.get_snapshots(pending)
        upstream.update(fetched)
        pending = {parent for s in fetched.values() for parent in s.parents if parent not in upstream}
    return DeployabilityIndex.create(upstream, start=env.start_at).is_representative(snapshot)


def _state_adapter(connection: ConnectionConfig) -> EngineAdapter:
    """A private adapter on the state database, closed by the caller.

    SQLMesh shares one adapter per DuckDB file within a process; closing a shared one would
    break its other users (other triggers in the same triggerer), so that cache is bypassed.
    A DuckDB file is opened read-only: the check then never creates a missing file.
    """
    from sqlmesh.core.config.connection import ConnectionConfig, DuckDBConnectionConfig
    from sqlmesh.core.engine_adapter import DuckDBEngineAdapter

    if isinstance(connection, DuckDBConnectionConfig) and connection.database and connection.database != ":memory:":
        return DuckDBEngineAdapter(
            partial(connect_duckdb_read_only, connection.database),
            default_catalog=connection.get_catalog(),
            cursor_init=connection._cursor_init,  # extensions, settings, secrets as the project configures them
            shared_connection=True,
        )
    return ConnectionConfig.create_engine_adapter(connection)


def _busy_reason(exc: BaseException) -> str | None:
    """A reason to wait, when the state database is locked by a writer or not created yet."""
    message = str(exc)
    if re.search(r"\block", message, re.IGNORECASE):  # "lock", "locked"; not "block"
        return f"SQLMesh state is locked by a writer (probably a SQLMesh run in progress): {message}"
    if "database does not exist" in message:
        return f"SQLMesh state database does not exist yet: {message}"
    return None


def _same_table(snapshot_name: str, model: str) -> bool:
    """'"db"."staging"."orders"' matches 'staging.orders' and 'db.staging.orders' (case-insensitive)."""
    from sqlglot import exp

    have = [part.name.lower() for part in exp.to_table(snapshot_name).parts]
    want = [part.name.lower() for part in exp.to_table(model).parts]
    return len(want) <= len(have) and have[-len(want) :] == want


def cache_dir(config: Config, project: Path) -> Path:
    """Where a Context of this project caches parsed snapshots."""
    if config.cache_dir:
        path = Path(config.cache_dir)
        return path if path.is_absolute() else project / path
    return project / ".cache"


def _utc(value: datetime | str) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
