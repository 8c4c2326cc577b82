"""What the warehouse holds about a project, read in one short read-only session.

Run history, deployment records, recent alerts and the live columns of contracted prod
tables. A DuckDB file a pipeline task holds is waited for only a few seconds (a page must
answer); then the page says the warehouse is busy instead of failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_dualengine.engines.redact import redact
from airflow_provider_dualengine.graph import Engine
from airflow_provider_dualengine.graph.relations import model_relation
from airflow_provider_dualengine.ui.projects import LoadedProject

log = logging.getLogger(__name__)

PAGE_WAIT_S = 3.0
HISTORY_DAYS = 30
DEPLOYMENTS_SHOWN = 50
ALERT_DAYS = 7


@dataclass
class WarehouseState:
    history: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # contract model name -> live prod columns (name -> type); absent: no prod table yet
    prod_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    dialect: str = "duckdb"
    unavailable: str | None = None  # why nothing could be read (busy, unreachable)
    since: datetime | None = None


def read_state(
    loaded: LoadedProject,
    *,
    history_rows: bool = True,
    deployments: bool = True,
    recent_alerts: bool = False,
    prod_columns: bool = False,
    now: datetime | None = None,
) -> WarehouseState:
    """What one page needs, in one read-only session held only while reading."""
    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.hooks.warehouse import WarehouseConnectionError, WarehouseHook
    from airflow_provider_dualengine.monitoring import alerts, history

    now = now or datetime.now(UTC)
    since = now - timedelta(days=HISTORY_DAYS)
    state = WarehouseState(since=since)
    secrets: list[str] = []
    try:
        hook = WarehouseHook(loaded.conn_id)
        state.dialect = hook.dialect_name
        secrets = [s for s in (hook.connection.password, hook.connection.get_uri()) if s]
        with hook.session(autocommit=True, read_only=True, wait_s=PAGE_WAIT_S) as warehouse:
            if history_rows:
                state.history = history.read(warehouse, since=since)
            if deployments:
                state.deployments = records.read_deployments(warehouse, DEPLOYMENTS_SHOWN)
            if recent_alerts:
                state.alerts = alerts.recent(warehouse, now - timedelta(days=ALERT_DAYS))
            if prod_columns:
                state.prod_columns = _prod_columns(loaded, warehouse)
    except WarehouseConnectionError as exc:  # busy, unreachable or no such connection
        state.unavailable = str(exc)
    except Exception as exc:  # noqa: BLE001 - a page says why, it does not fail
        log.warning("dual-engine view: reading the warehouse of %s failed", loaded.name, exc_info=True)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        state.unavailable = f"{type(exc).__name__}: {redact(first, secrets)}"
    return state


def _prod_columns(loaded: LoadedProject, warehouse: Any) -> dict[str, dict[str, str]]:
    from airflow_provider_dualengine.contracts.runtime import live_columns

    prod = loaded.production()
    if prod is None:
        return {}
    found: dict[str, dict[str, str]] = {}
    for contract in loaded.contracts:
        engine = Engine(contract.model.producer)
        keys = loaded.graph.models_graph.matching(f"{engine.value}:{contract.model.name}")
        if not keys:
            continue
        schema, table = model_relation(
            loaded.project, engine, keys[0][1], loaded.graph.models_graph.relation_of(keys[0]), prod
        )
        if warehouse.table_exists(schema, table):
            found[contract.model.name] = live_columns(warehouse, schema, table)
    return found


def latest_runs(history: list[dict[str, Any]], kind: str = "model") -> dict[tuple[str, str, str], dict[str, Any]]:
    """(engine, model, environment) -> its newest row of `kind` (history is oldest first)."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in history:
        if row["kind"] == kind:
            latest[(row["engine"], row["model"], row["environment"])] = row
    return latest
