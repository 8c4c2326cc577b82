"""Can a contract's freshness SLA be measured, and can the producer ever meet it?

At run time the SLA is measured from the contract's `freshness_column` (the newest value
in the data), else from when the producer last wrote its table, as its engine records it
(SQLMesh's state, dbt's build; see `operators.contract_check`). A view or an ephemeral
model has no write of its own that dates its data, so its contract needs a
`freshness_column`: without one the SLA could never be checked, which is an error here,
before anything runs, not a warning at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_dualengine.graph import Engine

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.contracts import ContractModel
    from airflow_provider_dualengine.engines.catalog import CatalogModel

Finding = tuple[str, str, str, str]  # key, severity, message, hint

# Kinds whose table write says nothing about when their data was produced (or no table).
_UNDATED = {Engine.SQLMESH: {"VIEW", "EMBEDDED", "EXTERNAL"}, Engine.DBT: {"view", "ephemeral"}}


def freshness_findings(
    spec: ContractModel, producer: tuple[Engine, str], columns: dict[str, str], model: CatalogModel | None
) -> list[Finding]:
    sla = spec.sla
    if sla is None or sla.max_age is None:
        return []
    engine, name = producer
    if sla.freshness_column:
        return _column_findings(sla.freshness_column, name, columns)
    kind = model.kind if model is not None else None
    if kind in _UNDATED[engine]:
        return [
            (
                "sla.freshness",
                "error",
                f"the freshness SLA '{sla.freshness}' cannot be measured: {engine.value} model {name} is a {kind.lower()}, which has no write of its own that dates its data",
                "add sla.freshness_column: a date or timestamp column of the model saying when its rows were produced",
            )
        ]
    interval = cron_interval(model.cron) if engine is Engine.SQLMESH and model is not None and model.cron else None
    if interval is not None and interval > sla.max_age:
        return [
            (
                "sla.freshness",
                "warning",
                f"{name} runs on cron '{model.cron}' (every {_text(interval)}), so between its runs its data is older than the SLA '{sla.freshness}': the check fails on every run that does not rebuild it",  # type: ignore[union-attr]
                "run the model more often, or relax the SLA to its cron interval",
            )
        ]
    return []


def _column_findings(column: str, model: str, columns: dict[str, str]) -> list[Finding]:
    if not columns:
        return []
    found = columns.get(column.lower())
    if found is None:
        return [
            (
                "sla.freshness_column",
                "error",
                f"freshness_column '{column}' is not a column of {model} (it has: {', '.join(sorted(columns))})",
                "name a date or timestamp column of the model",
            )
        ]
    if found and not _temporal(found):
        return [
            (
                "sla.freshness_column",
                "error",
                f"freshness_column '{column}' of {model} is {found}, not a date or timestamp",
                "name a date or timestamp column of the model",
            )
        ]
    return []


def _temporal(type_text: str) -> bool:
    from sqlglot import exp

    for dialect in ("duckdb", "postgres"):
        try:
            return exp.DataType.build(type_text, dialect=dialect).this in exp.DataType.TEMPORAL_TYPES
        except Exception:  # noqa: BLE001, S112 - try the next dialect's spelling
            continue
    return True  # a type neither dialect reads: let the run-time check decide


def _text(interval: timedelta) -> str:
    if interval.days and not interval.seconds:
        return f"{interval.days} day{'s' if interval.days > 1 else ''}"
    return str(interval)


def cron_interval(cron: str) -> timedelta | None:
    """The shortest gap between two runs of `cron` over the next few (None if unreadable)."""
    from croniter import croniter  # type: ignore[import-untyped]

    try:
        runs = croniter(cron, datetime(2024, 1, 1, tzinfo=UTC))
        stamps = [runs.get_next(datetime) for _ in range(4)]
    except (ValueError, KeyError):
        return None
    return min(b - a for a, b in zip(stamps, stamps[1:], strict=False))
