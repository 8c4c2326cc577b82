"""Cost, performance and alerts: the run history's metrics document drawn with the same
sections as `dualengine report` (cost per engine, execution trends against baselines, data
quality and SLA, lags, models), plus the alerts fired in the last days. Before any run is
recorded the page says so instead of drawing empty charts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow_provider_dualengine.monitoring.report import REPORT_CSS, render_sections
from airflow_provider_dualengine.ui.html import badge, empty, esc, notice, shell, table, when
from airflow_provider_dualengine.ui.projects import LoadedProject
from airflow_provider_dualengine.ui.warehouse_state import ALERT_DAYS, WarehouseState


def metrics(loaded: LoadedProject, state: WarehouseState, now: datetime | None = None) -> dict[str, Any]:
    from airflow_provider_dualengine.config.monitoring import load_monitoring
    from airflow_provider_dualengine.monitoring.metrics import metrics_document

    now = now or datetime.now(UTC)
    return metrics_document(
        state.history,
        state.deployments,
        loaded.graph.models_graph.cross_engine_edges(),
        load_monitoring(loaded.project),
        since=state.since or now,
        until=now,
        environment=None,
        generated_at=now,
    )


def _alerts(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return empty(f"no alert fired in the last {ALERT_DAYS} days")
    rows = [
        [
            when(a["fired_at"]),
            badge(a["severity"]),
            f'<span class="mono">{esc(a["rule"])}</span>',
            esc(a["subject"]),
            esc(a["message"]),
            esc(a["delivered_to"] or "—"),
        ]
        for a in alerts
    ]
    return table(("fired", "severity", "rule", "subject", "message", "delivered to"), rows, ident="alerts")


def render(loaded: LoadedProject, state: WarehouseState, projects: list[str], warnings: list[str]) -> str:
    body = "".join(notice(w) for w in warnings)
    body += f'<section id="recent-alerts"><h2>Alerts fired in the last {ALERT_DAYS} days</h2>{_alerts(state.alerts)}</section>'
    if state.unavailable is None:
        body += f'<div class="report" id="metrics">{render_sections(metrics(loaded, state))}</div>'
    return shell(
        "operations",
        f"Cost, performance & alerts · {loaded.name}",
        body,
        project=loaded.name,
        projects=projects,
        extra_css=REPORT_CSS.replace("body{", ".report{"),
    )
