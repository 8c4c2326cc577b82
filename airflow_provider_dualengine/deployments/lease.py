"""One deployment (or rollback) per environment at a time: a lease in the warehouse.

Two deploy DAGs of one environment (another `dag_id`, another checkout) would otherwise
choose the same idle dbt slot and the same SQLMesh green environment and promote over each
other. The lease lives in the warehouse both engines write (`dualengine.deployment_leases`,
one row per environment), so it holds whatever DAG, scheduler or CLI asks:

- `acquire` takes it atomically: a live lease of someone else refuses with
  `DeploymentInProgress` naming the holder; an expired one is taken over and returned, so
  the caller settles that holder's record as interrupted (only then, never by guessing
  from timings);
- `renew` pushes the expiry forward (every task of a deploy DAG does, when it starts);
  it fails with `LeaseLost` when someone took the lease over after it expired;
- `release` gives it back (the deployment's conclusion, the rollback's end).

Atomicity: PostgreSQL locks the row (`SELECT ... FOR UPDATE`) and the primary key refuses a
second first-time taker; DuckDB admits one writing process at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse

SCHEMA = "dualengine"
TABLE = "deployment_leases"
DEFAULT_TTL = timedelta(hours=2)
_ATTEMPTS = 4


@dataclass(frozen=True)
class Lease:
    environment: str
    holder: str  # deployment id (or rollback id)
    owner: str  # who runs it: `dag_id/run_id`, or `cli:<user>`
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"{self.holder} (run by {self.owner}, since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until {self.expires_at:%Y-%m-%d %H:%M:%S} UTC)"


class DeploymentInProgress(RuntimeError):
    """Another deployment of the environment holds a live lease."""

    def __init__(self, lease: Lease):
        self.lease = lease
        super().__init__(
            f"another deployment of '{lease.environment}' is in progress: {lease.describe()}; this one did not start"
            " and changed nothing. Trigger it again when that one has concluded (or, if its process is gone, after"
            " its lease expires)"
        )


class LeaseLost(RuntimeError):
    """The lease expired and another deployment took it over."""


def ensure_table(warehouse: Warehouse) -> None:
    """Create the lease table when missing. Two first deployments may both create it:
    PostgreSQL's `IF NOT EXISTS` still races on the catalog, so the loser re-checks."""
    try:
        warehouse.create_table_if_missing(
            SCHEMA,
            TABLE,
            "environment TEXT PRIMARY KEY, holder TEXT NOT NULL, owner TEXT NOT NULL, "
            "acquired_at TIMESTAMP NOT NULL, renewed_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL",
        )
    except Exception:
        if not warehouse.table_exists(SCHEMA, TABLE):
            raise


def acquire(
    warehouse: Warehouse, environment: str, holder: str, owner: str, ttl: timedelta = DEFAULT_TTL
) -> Lease | None:
    """Take the environment's lease for `holder`; returns the expired lease it replaced
    (whose deployment died), else None. Raises DeploymentInProgress when it is held.

    Two takers at once: PostgreSQL's row lock or primary key, or DuckDB's write-write
    conflict, fails the second's transaction; it starts over and then sees the winner."""
    for attempt in range(_ATTEMPTS):
        try:
            ensure_table(warehouse)
            return _take(warehouse, environment, holder, owner, ttl)
        except DeploymentInProgress:
            raise
        except Exception:
            if attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _take(warehouse: Warehouse, environment: str, holder: str, owner: str, ttl: timedelta) -> Lease | None:
    now = _now()
    with warehouse.transaction():
        current = _current(warehouse, environment, lock=True)
        if current is not None and current.holder != holder and current.expires_at > now:
            raise DeploymentInProgress(current)
        values = [holder, owner, _naive(now), _naive(now), _naive(now + ttl)]
        if current is None:
            warehouse.execute(
                f"INSERT INTO {_table(warehouse)} (holder, owner, acquired_at, renewed_at, expires_at, environment)"
                f" VALUES ({PARAM}, {PARAM}, {PARAM}, {PARAM}, {PARAM}, {PARAM})",
                [*values, environment],
            )
        else:
            warehouse.execute(
                f"UPDATE {_table(warehouse)} SET holder = {PARAM}, owner = {PARAM}, acquired_at = {PARAM},"
                f" renewed_at = {PARAM}, expires_at = {PARAM} WHERE environment = {PARAM} AND holder = {PARAM}",
                [*values, environment, current.holder],
            )
    return current if current is not None and current.holder != holder else None


def renew(warehouse: Warehouse, environment: str, holder: str, ttl: timedelta = DEFAULT_TTL) -> datetime:
    """Push the lease's expiry to now + ttl; LeaseLost when `holder` no longer holds it."""
    now = _now()
    with warehouse.transaction():
        renewed = warehouse.rows(
            f"UPDATE {_table(warehouse)} SET renewed_at = {PARAM}, expires_at = {PARAM}"
            f" WHERE environment = {PARAM} AND holder = {PARAM} RETURNING holder",
            [_naive(now), _naive(now + ttl), environment, holder],
        )
    if not renewed:
        current = _current(warehouse, environment) if warehouse.table_exists(SCHEMA, TABLE) else None
        now_held = f"it is now held by {current.describe()}" if current else "nobody holds it now"
        raise LeaseLost(
            f"deployment {holder} lost the lease of '{environment}' (it expired and {now_held}); it must not change prod"
        )
    return now + ttl


def release(warehouse: Warehouse, environment: str, holder: str) -> None:
    """Give the lease back (no-op when `holder` does not hold it)."""
    if not warehouse.table_exists(SCHEMA, TABLE):
        return
    with warehouse.transaction():
        warehouse.execute(
            f"DELETE FROM {_table(warehouse)} WHERE environment = {PARAM} AND holder = {PARAM}", [environment, holder]
        )


def live(warehouse: Warehouse, environment: str) -> Lease | None:
    """The environment's lease while it is live (a deployment or rollback in progress)."""
    found = current(warehouse, environment)
    return found if found is not None and found.expires_at > _now() else None


def held_by_deployment(conn_id: str, environment: str) -> Lease | None:
    """Whether a deployment or rollback holds the environment now, read in a read-only
    session of the warehouse (on DuckDB for milliseconds)."""
    from pathlib import Path

    from airflow_provider_dualengine.engines.connections import duckdb_path
    from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

    hook = WarehouseHook(conn_id)
    if hook.dialect_name == "duckdb" and not Path(duckdb_path(hook.connection)).exists():
        return None  # a warehouse nothing has written yet: no deployment either
    with hook.session(read_only=True) as warehouse:
        return live(warehouse, environment)


def current(warehouse: Warehouse, environment: str) -> Lease | None:
    """The environment's lease as stored (live or expired), if any."""
    return _current(warehouse, environment) if warehouse.table_exists(SCHEMA, TABLE) else None


def _current(warehouse: Warehouse, environment: str, lock: bool = False) -> Lease | None:
    suffix = " FOR UPDATE" if lock and warehouse.dialect == "postgres" else ""
    rows = warehouse.rows(
        f"SELECT holder, owner, acquired_at, expires_at FROM {_table(warehouse)} WHERE environment = {PARAM}{suffix}",
        [environment],
    )
    if not rows:
        return None
    holder, owner, acquired_at, expires_at = rows[0]
    return Lease(environment, holder, owner, _aware(acquired_at), _aware(expires_at))


def _table(warehouse: Warehouse) -> str:
    return warehouse.quote(SCHEMA, TABLE)


def _now() -> datetime:
    return datetime.now(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
