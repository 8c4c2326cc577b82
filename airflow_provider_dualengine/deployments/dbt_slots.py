"""Blue-green deployment for dbt, at the warehouse level: the two slots behind a live schema.

dbt has no environments of its own: it builds into whatever schema it is given. Here a
deployment builds its models into the *idle slot* (`<live>__blue` or `<live>__green`),
which no production reader uses, and `switch` then repoints a stable layer of views in the
live schema (`analytics.customer_value` = `SELECT * FROM analytics__green.customer_value`)
in one transaction. So prod readers never see a half-built slot, and the previous slot
stays intact for `rollback`.

Which slot is live is recorded in `dualengine.dbt_slots` (not read back from view SQL):
one row per live schema with the live and previous slot, the relations the live views
cover and when and how fast the last switch was. Runs on a warehouse session of DuckDB or
PostgreSQL (both have transactional DDL); identifiers are quoted, values bound.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse

STATE_SCHEMA = "dualengine"
STATE_TABLE = "dbt_slots"


class BlueGreenError(RuntimeError):
    """A switch or rollback was refused or failed; the live layer is unchanged."""


@dataclass(frozen=True)
class SwitchResult:
    live_schema: str
    slot: str  # live after the switch
    previous_slot: str | None  # live before the switch, kept for rollback
    relations: tuple[str, ...]  # live views now pointing at `slot`
    dropped: tuple[str, ...]  # live views removed: their relation is no longer deployed
    seconds: float  # BEGIN to COMMIT: the promotion window readers could wait on locks
    switched_at: datetime


def slot_names(live_schema: str) -> tuple[str, str]:
    """The two slot schemas behind a live schema: (`<live>__blue`, `<live>__green`)."""
    return f"{live_schema}__blue", f"{live_schema}__green"


def live_slot(warehouse: Warehouse, live_schema: str) -> str | None:
    """The slot the live views point to, or None before the first switch."""
    state = _read_state(warehouse, live_schema)
    return state["live_slot"] if state else None


def idle_slot(warehouse: Warehouse, live_schema: str) -> str:
    """The slot to build the next deployment into: the one not live (blue at first)."""
    blue, green = slot_names(live_schema)
    return green if live_slot(warehouse, live_schema) == blue else blue


def switch(warehouse: Warehouse, live_schema: str, slot: str, relations: list[str]) -> SwitchResult:
    """Point the live views of `relations` at `slot`, atomically.

    Every relation must exist in `slot` (checked first). In one transaction: create the
    live schema if missing, (re)create one view per relation, drop live views of relations
    deployed before but not now, and record the state (previous slot = the old live one).
    Any error rolls the whole transaction back, so readers keep the old live layer.
    """
    wanted = check_switch(warehouse, live_schema, slot, relations)
    started = time.perf_counter()
    try:
        with warehouse.transaction():
            result = apply_switch(warehouse, live_schema, slot, wanted)
    except Exception as exc:  # rolled back by the transaction
        raise BlueGreenError(f"switch of '{live_schema}' to '{slot}' failed and was rolled back: {exc}") from exc
    return replace(result, seconds=time.perf_counter() - started)


def rollback(warehouse: Warehouse, live_schema: str, relations: list[str]) -> SwitchResult:
    """Switch the live views back to the previous slot (left intact by the last switch)."""
    return switch(warehouse, live_schema, previous_slot(warehouse, live_schema), relations)


def previous_slot(warehouse: Warehouse, live_schema: str) -> str:
    """The slot that was live before the last switch; raises if there is none."""
    state = _read_state(warehouse, live_schema)
    if not state or not state["previous_slot"]:
        raise BlueGreenError(f"live schema '{live_schema}' has no previous slot to roll back to")
    return state["previous_slot"]


def check_switch(warehouse: Warehouse, live_schema: str, slot: str, relations: list[str]) -> list[str]:
    """Refuse a switch that could not complete (wrong slot, nothing to switch, a relation
    missing from the slot) before any transaction starts; returns the relations, deduplicated."""
    wanted = _unique(relations)
    if slot not in slot_names(live_schema):
        raise BlueGreenError(f"'{slot}' is not a slot of '{live_schema}' (expected one of {slot_names(live_schema)})")
    if not wanted:
        raise BlueGreenError("no relations to switch")
    missing = sorted(set(wanted) - set(warehouse.list_tables(slot)))
    if missing:
        raise BlueGreenError(f"slot '{slot}' lacks {', '.join(missing)}; live schema '{live_schema}' left unchanged")
    _ensure_state_table(warehouse)
    return wanted


def apply_switch(warehouse: Warehouse, live_schema: str, slot: str, relations: list[str]) -> SwitchResult:
    """The switch's statements, inside the caller's transaction (after `check_switch`), so
    a coordinated promotion can switch dbt and SQLMesh views in one commit."""
    switched_at = datetime.now(UTC)
    started = time.perf_counter()
    state = _read_state(warehouse, live_schema, for_update=True)
    warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {warehouse.quote(live_schema)}")
    for relation in relations:
        _create_view(warehouse, live_schema, slot, relation)
    before = json.loads(state["relations"]) if state else []
    dropped = [r for r in before if r not in relations]
    for relation in dropped:
        warehouse.execute(f"DROP VIEW IF EXISTS {warehouse.quote(live_schema, relation)}")
    previous = state["live_slot"] if state else None
    seconds = time.perf_counter() - started
    _write_state(warehouse, live_schema, slot, previous, relations, switched_at, seconds, exists=state is not None)
    return SwitchResult(live_schema, slot, previous, tuple(relations), tuple(dropped), seconds, switched_at)


def apply_clear(warehouse: Warehouse, live_schema: str, relations: list[str]) -> None:
    """Inside the caller's transaction: drop the live views and forget the live slot (a
    rollback to before the first deployment). The slots themselves are left as they are."""
    for relation in relations:
        warehouse.execute(f"DROP VIEW IF EXISTS {warehouse.quote(live_schema, relation)}")
    warehouse.execute(f"DELETE FROM {_state_table(warehouse)} WHERE live_schema = {PARAM}", [live_schema])


def drop_slot(warehouse: Warehouse, live_schema: str, slot: str) -> None:
    """Drop an idle slot's schema (a failed deployment's half-built models). Refuses the live slot."""
    if slot not in slot_names(live_schema):
        raise BlueGreenError(f"'{slot}' is not a slot of '{live_schema}'")
    if slot == live_slot(warehouse, live_schema):
        raise BlueGreenError(f"refusing to drop '{slot}': it is live")
    with warehouse.transaction():
        warehouse.execute(f"DROP SCHEMA IF EXISTS {warehouse.quote(slot)} CASCADE")


def live_state(warehouse: Warehouse, live_schema: str) -> dict[str, Any] | None:
    """{live_slot, previous_slot, relations (list)} of a live schema, or None before the first switch."""
    state = _read_state(warehouse, live_schema)
    return {**state, "relations": json.loads(state["relations"])} if state else None


def _create_view(warehouse: Warehouse, live_schema: str, slot: str, relation: str) -> None:
    # Drop + create rather than CREATE OR REPLACE: PostgreSQL refuses to replace a view
    # whose columns changed, which a new deployment may well do. Same transaction, so
    # readers never see the view missing.
    live = warehouse.quote(live_schema, relation)
    warehouse.execute(f"DROP VIEW IF EXISTS {live}")
    warehouse.execute(f"CREATE VIEW {live} AS SELECT * FROM {warehouse.quote(slot, relation)}")


def _ensure_state_table(warehouse: Warehouse) -> None:
    warehouse.create_table_if_missing(
        STATE_SCHEMA,
        STATE_TABLE,
        "live_schema TEXT PRIMARY KEY, live_slot TEXT NOT NULL, previous_slot TEXT, "
        "relations TEXT NOT NULL, switched_at TIMESTAMP NOT NULL, switch_seconds DOUBLE PRECISION",
    )


def _read_state(warehouse: Warehouse, live_schema: str, for_update: bool = False) -> dict[str, Any] | None:
    """The state row of `live_schema`; inside a switch, locked against concurrent switches (PostgreSQL)."""
    if not for_update:
        _ensure_state_table(warehouse)
    lock = " FOR UPDATE" if for_update and warehouse.dialect == "postgres" else ""
    warehouse.execute(
        f"SELECT live_slot, previous_slot, relations FROM {_state_table(warehouse)} WHERE live_schema = {PARAM}{lock}",
        [live_schema],
    )
    row = warehouse.fetchone()
    return dict(zip(("live_slot", "previous_slot", "relations"), row, strict=True)) if row else None


def _write_state(
    warehouse: Warehouse,
    live_schema: str,
    slot: str,
    previous: str | None,
    relations: list[str],
    at: datetime,
    seconds: float,
    exists: bool,
) -> None:
    values = [slot, previous, json.dumps(relations), at.replace(tzinfo=None), seconds, live_schema]
    table = _state_table(warehouse)
    if exists:
        sql = f"UPDATE {table} SET live_slot = {PARAM}, previous_slot = {PARAM}, relations = {PARAM}, switched_at = {PARAM}, switch_seconds = {PARAM} WHERE live_schema = {PARAM}"
    else:
        sql = f"INSERT INTO {table} (live_slot, previous_slot, relations, switched_at, switch_seconds, live_schema) VALUES ({PARAM}, {PARAM}, {PARAM}, {PARAM}, {PARAM}, {PARAM})"
    warehouse.execute(sql, values)


def _state_table(warehouse: Warehouse) -> str:
    return warehouse.quote(STATE_SCHEMA, STATE_TABLE)


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
