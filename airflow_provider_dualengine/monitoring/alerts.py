"""Evaluate the alert rules on the metrics, deliver what fires through Airflow notifiers,
and never say the same thing twice.

Rules (monitoring/alert_rules.py) are evaluated on the metrics document of the window
(monitoring/metrics.py), at the end of every pipeline run (that run's executions only) and
by the monitor DAG (everything in the window). Each firing has a subject: a model in a run,
a cross-engine edge in a run, a deployment, an engine on a day. Delivered firings are kept
in `dualengine.alerts`; a firing is delivered only if its (rule, subject) was never
delivered, and no firing of the same rule and scope (the subject without its run) was
delivered within the cooldown - so the end-of-run evaluation and the monitor DAG never
repeat each other, and a model that stays slow alerts once per cooldown, not once per run.
"""

from __future__ import annotations

import copy
import logging
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse
from airflow_provider_dualengine.monitoring.alert_rules import AlertRule

log = logging.getLogger(__name__)

SCHEMA, TABLE = "dualengine", "alerts"
DEFAULT_COOLDOWN = timedelta(hours=1)


@dataclass(frozen=True)
class Firing:
    rule: str
    severity: str
    condition: str
    subject: str  # what fired: "dbt:customer_value@<run>", a deployment id, "sqlmesh@2026-12-07"
    scope: str  # the subject without its run: the cooldown applies per rule and scope
    message: str
    value: float | None = None
    limit: float | None = None
    models: tuple[str, ...] = ()  # node ids "engine:model"
    engines: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    link: str | None = None
    actions: tuple[str, ...] = field(default=(), compare=False)

    def payload(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def evaluate(
    rules: Sequence[AlertRule],
    document: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    run_id: str | None = None,
    dag_id: str | None = None,
    owners: Mapping[str, str] | None = None,
    base_url: str | None = None,
    min_execution_s: float = 0.0,
) -> list[Firing]:
    """What breaks a rule, in the executions of the run `(dag_id, run_id)` when given, else in
    the whole window; newest first, so that when a rule's scope allows one alert, it is
    about the latest. Executions shorter than `min_execution_s` are no performance degradation."""
    found: list[Firing] = []
    context = _Context(document, rows, (dag_id, run_id) if run_id else None, owners or {}, base_url, min_execution_s)
    for rule in rules:
        condition = rule.condition
        checks = _EVENTS.get(condition.event or "") if condition.event else _METRICS.get(condition.metric or "")
        if checks is None:
            continue
        for firing in checks(rule, context):
            found.append(firing)
    return found


@dataclass
class _Context:
    document: Mapping[str, Any]
    rows: Sequence[Mapping[str, Any]]
    run: tuple[str | None, str] | None  # (dag_id, run_id) evaluated; None: the whole window
    owners: Mapping[str, str]
    base_url: str | None
    min_execution_s: float = 0.0

    def in_scope(self, item: Mapping[str, Any]) -> bool:
        """A run is (dag_id, run_id): scheduled run ids repeat across DAGs of one project."""
        if self.run is None:
            return True
        dag_id, run_id = self.run
        return item.get("run_id") == run_id and (dag_id is None or item.get("dag_id") == dag_id)

    def task_of(self, node: str, item: Mapping[str, Any]) -> Mapping[str, Any] | None:
        engine, _, model = node.partition(":")
        matches = [
            r
            for r in self.rows
            if r["engine"] == engine
            and r["model"] == model
            and r["kind"] == "model"
            and r["run_id"] == item.get("run_id")
            and r["dag_id"] == item.get("dag_id", r["dag_id"])
        ]
        return matches[-1] if matches else None

    def firing(
        self,
        rule: AlertRule,
        subject: str,
        scope: str,
        message: str,
        nodes: Iterable[str],
        item: Mapping[str, Any] | None,
        **extra: Any,
    ) -> Firing:
        from urllib.parse import quote

        nodes = tuple(dict.fromkeys(nodes))
        row = self.task_of(nodes[0], item) if nodes and item and item.get("run_id") else None
        run_id = item.get("run_id") if item else None
        link = None
        if row is not None and self.base_url:
            path = "/".join(quote(str(row[k]), safe="") for k in ("dag_id", "run_id", "task_id"))
            dag, run, task = path.split("/")
            link = f"{self.base_url.rstrip('/')}/dags/{dag}/runs/{run}/tasks/{task}"
        return Firing(
            rule=rule.name,
            severity=rule.severity,
            condition=rule.condition.text,
            subject=subject,
            scope=scope,
            message=message,
            models=nodes,
            engines=tuple(dict.fromkeys(n.partition(":")[0] for n in nodes)),
            owners=tuple(dict.fromkeys(self.owners[n] for n in nodes if self.owners.get(n))),
            dag_id=row["dag_id"] if row is not None else None,
            run_id=run_id,
            task_id=row["task_id"] if row is not None else None,
            link=link,
            actions=rule.actions,
            **extra,
        )


def _slow_models(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
    for point in reversed(ctx.document.get("trend", [])):  # newest first
        if point.get("status") != "success" or not ctx.in_scope(point):
            continue
        value, baseline = point.get("execution_s"), point.get("baseline_s")
        if value is None or value < ctx.min_execution_s or not rule.condition.holds(value, baseline):
            continue
        node = f"{point['engine']}:{point['model']}"
        limit = (rule.condition.baseline_factor or 0) * baseline if baseline is not None else rule.condition.threshold
        yield ctx.firing(
            rule,
            f"{node}@{point.get('dag_id')}/{point.get('run_id')}",
            node,
            f"{node} ran {value:.1f} s, over {rule.condition.baseline_factor:g} x its baseline of {baseline:.1f} s"
            if baseline is not None and rule.condition.baseline_factor is not None
            else f"{node} ran {value:.1f} s ({rule.condition.text})",
            [node],
            point,
            value=value,
            limit=limit,
        )


def _lagging_edges(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
    for edge in reversed(ctx.document.get("dependency_lag", {}).get("edges", [])):  # newest first
        if not ctx.in_scope(edge) or not rule.condition.holds(edge["lag_s"]):
            continue
        pair = f"{edge['producer']}->{edge['consumer']}"
        yield ctx.firing(
            rule,
            f"{pair}@{edge.get('dag_id')}/{edge['run_id']}",
            pair,
            f"{edge['consumer']} started {edge['lag_s']:.1f} s after {edge['producer']} finished ({rule.condition.text})",
            [edge["producer"], edge["consumer"]],
            edge,
            value=edge["lag_s"],
            limit=rule.condition.threshold,
        )


def _daily_cost(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
    days = ctx.document.get("daily", [])
    if not days:
        return
    today, earlier = days[-1], [d["cost"]["total"] for d in days[:-1]]
    baseline = statistics.median(earlier) if earlier else None  # the earlier days of the window
    if rule.condition.holds(today["cost"]["total"], baseline):
        yield ctx.firing(
            rule,
            f"daily_cost@{today['date']}",
            "daily_cost",
            f"cost of {today['date']}: {today['cost']['total']:.2f} {ctx.document.get('currency', '')} ({rule.condition.text}"
            + (f", baseline {baseline:.2f})" if baseline is not None else ")"),
            [],
            None,
            value=today["cost"]["total"],
            limit=(rule.condition.baseline_factor or 0) * baseline
            if baseline is not None
            else rule.condition.threshold,
        )


def _window_value(name: str, path: tuple[str, ...]) -> Any:
    def check(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
        value: Any = ctx.document
        for key in path:
            value = (value or {}).get(key)
        if value is not None and rule.condition.holds(float(value)):
            until = str(ctx.document.get("window", {}).get("until", ""))[:10]
            yield ctx.firing(
                rule,
                f"{name}@{until}",
                name,
                f"{name} is {float(value):.1f} ({rule.condition.text})",
                [],
                None,
                value=float(value),
            )

    return check


def _error_rate(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
    until = str(ctx.document.get("window", {}).get("until", ""))[:10]
    for engine, figures in ctx.document.get("engines", {}).items():
        rate = figures.get("error_rate_pct")
        if rate is not None and rule.condition.holds(rate):
            yield ctx.firing(
                rule,
                f"{engine}@{until}",
                engine,
                f"{engine} error rate {rate:.1f}% ({rule.condition.text})",
                [],
                None,
                value=rate,
            )


def _failed_rows(kind: str, predicate: Any, what: str) -> Any:
    def check(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
        for row in reversed(ctx.rows):  # newest first
            if row["kind"] != kind or not predicate(row) or not ctx.in_scope(row):
                continue
            node = f"{row['engine']}:{row['model']}"
            yield ctx.firing(
                rule,
                f"{node}@{row['dag_id']}/{row['run_id']}",
                node,
                f"{what} {node}: {row.get('message') or row['status']}",
                [node],
                row,
            )

    return check


def _deployments(status: str) -> Any:
    def check(rule: AlertRule, ctx: _Context) -> Iterable[Firing]:
        for deployment in ctx.document.get("deployments", {}).get("recent", []):
            if deployment["status"] == status:
                yield ctx.firing(
                    rule,
                    f"deployment:{deployment['id']}",
                    f"deployment:{deployment['id']}",  # each deployment is its own event
                    f"deployment {deployment['id']} of '{deployment['environment']}' {status.replace('_', ' ')}",
                    [],
                    None,
                )

    return check


_METRICS = {
    "avg_execution_time": _slow_models,
    "dependency_lag": _lagging_edges,
    "daily_cost": _daily_cost,
    "error_rate": _error_rate,
    "monthly_cost": lambda rule, ctx: _this_month(rule, ctx, "cost"),
    "budget_variance": lambda rule, ctx: _this_month(rule, ctx, "variance_pct"),
    "data_quality_score": _window_value("data_quality_score", ("data_quality", "score_pct")),
    "sla_compliance": _window_value("sla_compliance", ("sla", "compliance_pct")),
    "deployment_success_rate": _window_value("deployment_success_rate", ("deployments", "success_rate_pct")),
}
_EVENTS = {
    "deployment_failed": _deployments("failed"),
    "deployment_rolled_back": _deployments("rolled_back"),
    "contract_failed": _failed_rows("contract_check", lambda r: r["status"] == "failed", "contract check failed for"),
    "sla_missed": _failed_rows("contract_check", lambda r: r.get("sla_met") is False, "freshness SLA missed by"),
    "model_failed": _failed_rows("model", lambda r: r["status"] == "failed", "model failed:"),
}


def _this_month(rule: AlertRule, ctx: _Context, figure: str) -> Iterable[Firing]:
    """The latest month's cost (money) or its variance against the budget (%)."""
    months = ctx.document.get("monthly", [])
    if not months:
        return
    month = months[-1]
    value = month["cost"]["total"] if figure == "cost" else month.get("variance_pct")
    if value is None or not rule.condition.holds(value):
        return
    budget = f" against a budget of {month['budget']:.2f}" if month.get("budget") is not None else ""
    yield ctx.firing(
        rule,
        f"{rule.condition.metric}@{month['month']}",
        str(rule.condition.metric),
        f"{month['month']}: {month['cost']['total']:.2f} {ctx.document.get('currency', '')}{budget} ({rule.condition.text})",
        [],
        None,
        value=value,
    )


# --- what was delivered ---------------------------------------------------------------------

_DDL = (
    "rule TEXT NOT NULL, subject TEXT NOT NULL, scope TEXT NOT NULL, severity TEXT NOT NULL, "
    "fired_at TIMESTAMP NOT NULL, message TEXT, delivered_to TEXT"
)


def undelivered(warehouse: Warehouse, firings: Sequence[Firing], cooldown: timedelta, now: datetime) -> list[Firing]:
    """The firings to deliver: never delivered for their subject, and their rule's scope
    quiet for `cooldown`; one per (rule, scope) among `firings` themselves."""
    warehouse.create_table_if_missing(SCHEMA, TABLE, _DDL)
    table = warehouse.quote(SCHEMA, TABLE)
    fresh: list[Firing] = []
    taken: set[tuple[str, str]] = set()
    for firing in firings:
        if (firing.rule, firing.scope) in taken:
            continue
        seen = warehouse.rows(
            f"SELECT count(*) FROM {table} WHERE rule = {PARAM} AND (subject = {PARAM} OR (scope = {PARAM} AND fired_at > {PARAM}))",
            [firing.rule, firing.subject, firing.scope, _naive(now - cooldown)],
        )
        if seen[0][0]:
            continue
        taken.add((firing.rule, firing.scope))
        fresh.append(firing)
    return fresh


def recent(warehouse: Warehouse, since: datetime) -> list[dict[str, Any]]:
    """Alerts fired since `since`, newest first; none before the first alert."""
    if not warehouse.table_exists(SCHEMA, TABLE):
        return []
    columns = ("rule", "subject", "scope", "severity", "fired_at", "message", "delivered_to")
    rows = warehouse.rows(
        f"SELECT {', '.join(columns)} FROM {warehouse.quote(SCHEMA, TABLE)} WHERE fired_at >= {PARAM} ORDER BY fired_at DESC",
        [_naive(since)],
    )
    found = [dict(zip(columns, row, strict=True)) for row in rows]
    for alert in found:
        alert["fired_at"] = alert["fired_at"].replace(tzinfo=UTC)
    return found


def remember(warehouse: Warehouse, firing: Firing, delivered_to: Sequence[str], now: datetime) -> None:
    table = warehouse.quote(SCHEMA, TABLE)
    with warehouse.transaction():
        warehouse.execute(
            f"INSERT INTO {table} (rule, subject, scope, severity, fired_at, message, delivered_to) VALUES ({', '.join([PARAM] * 7)})",
            [
                firing.rule,
                firing.subject,
                firing.scope,
                firing.severity,
                _naive(now),
                firing.message[:2000],
                ", ".join(delivered_to),
            ],
        )


def deliver(firing: Firing, notifiers: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> list[str]:
    """Hand the firing to each notifier its rule names; returns the ones that took it (a
    notifier that fails is logged: the others still get the alert)."""
    from airflow_provider_dualengine.notifications.webhook import ALERT_KEY

    took = []
    for action in firing.actions:
        notifier = notifiers.get(action)
        if notifier is None:
            log.warning("alert %s: no notifier %r", firing.rule, action)
            continue
        try:
            # Through __call__, which renders the notifier's templated fields (a Slack text of
            # "{{ dualengine_alert.message }}") with the alert in the context; on a copy, as
            # rendering replaces the fields (with new values) in place.
            copy.copy(notifier)({**(context or {}), ALERT_KEY: firing.payload()})
            took.append(action)
        except Exception as exc:  # noqa: BLE001 - one broken channel must not silence the others
            log.warning("alert %s not delivered through %s: %s: %s", firing.rule, action, type(exc).__name__, exc)
    return took


def process(
    warehouse: Warehouse,
    firings: Sequence[Firing],
    notifiers: Mapping[str, Any],
    cooldown: timedelta = DEFAULT_COOLDOWN,
    context: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> list[Firing]:
    """Deliver what is new and remember it; returns the delivered firings."""
    now = now or datetime.now(UTC)
    delivered = []
    for firing in undelivered(warehouse, firings, cooldown, now):
        took = deliver(firing, notifiers, context)
        if took:
            remember(warehouse, firing, took, now)
            delivered.append(firing)
            log.warning("alert %s (%s): %s -> %s", firing.rule, firing.severity, firing.message, ", ".join(took))
    return delivered


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
