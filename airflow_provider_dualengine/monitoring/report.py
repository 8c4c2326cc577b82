"""The shareable HTML report: one self-contained file rendered from the metrics document.

The file is meant to be mailed, attached to a ticket or opened from a CI artifact, so it loads
nothing: CSS is inline, charts are inline SVG drawn in `report_charts`, there is no script and
no URL. Everything taken from the document is escaped (model names and failure messages are
user data), a null renders as "—", and a document without executions renders a page that says
how to get history instead of empty charts. The document's shape is the contract with
`monitoring/metrics.py`; missing keys are read as empty so an older document still renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.monitoring.report_charts import (
    ENGINE_COLOURS,
    OTHER_COLOUR,
    STATUS_COLOURS,
    Series,
    Span,
    TrendPoint,
    esc,
    gauge,
    num,
    parse_time,
    share_bar,
    stacked_bars,
    time_domain,
    timeline,
    trend_panel,
)

ENGINES = ("sqlmesh", "dbt")
ENGINE_LABELS = {"sqlmesh": "SQLMesh", "dbt": "dbt", "shared": "shared"}
# A run this many times its baseline is drawn red: the report points at slow runs, it does not alert.
BASELINE_BREACH_FACTOR = 1.5
TREND_PANELS = 12
DASH = "—"
_CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def write_report(document: Mapping[str, Any], path: Path) -> Path:
    """Write the report of `document` (from `metrics_document`) to `path`; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(document), encoding="utf-8")
    return path


def render_report(document: Mapping[str, Any]) -> str:
    """The whole HTML page of `document`, as a string."""
    doc = _Doc(document)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(_page_title(doc))}</title><style>{REPORT_CSS}</style></head>"
        f"<body><main>{render_sections(document)}</main></body></html>\n"
    )


def render_sections(document: Mapping[str, Any]) -> str:
    """The report's sections without the page around them (the Airflow UI view embeds
    them with `REPORT_CSS`)."""
    doc = _Doc(document)
    sections = [_header(doc)]
    if doc.has_history:
        sections += [_cards(doc), _cost(doc), _trends(doc), _quality(doc), _lag(doc)]
    else:
        sections.append(_empty_state(doc))
    if doc.has_history or _list(doc.obj("deployments").get("recent")):
        sections.append(_deployments(doc))
    if doc.has_history or doc.rows("failing_checks"):
        sections.append(_failing_checks(doc))
    if doc.has_history:
        sections.append(_models(doc))
    sections.append(_footer(doc))
    return "".join(sections)


# --- reading the document ---------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


class _Doc:
    """The document with its sections read leniently (absent or malformed = empty)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.raw = _map(document)
        self.currency = str(self.raw.get("currency") or "USD")
        engines = self.obj("engines")
        executions = sum(num(_map(engines.get(e)).get("executions")) or 0 for e in ENGINES)
        self.has_history = executions > 0 or bool(self.rows("trend"))

    def obj(self, key: str) -> Mapping[str, Any]:
        return _map(self.raw.get(key))

    def rows(self, key: str) -> list[Mapping[str, Any]]:
        return _list(self.raw.get(key))

    def engine(self, name: str) -> Mapping[str, Any]:
        return _map(self.obj("engines").get(name))

    def money(self, value: object) -> str:
        return money(value, self.currency)


# --- formatting ---------------------------------------------------------------------------


def money(value: object, currency: str = "USD") -> str:
    """An amount; small amounts keep four decimals so a cent-less run is not shown as 0.00."""
    amount = num(value)
    if amount is None:
        return DASH
    digits = 4 if 0 < abs(amount) < 0.01 else 2
    text = f"{abs(amount):,.{digits}f}"
    symbol = _CURRENCY_SYMBOLS.get(currency)
    text = f"{symbol}{text}" if symbol else f"{text} {currency}"
    return f"-{text}" if amount < 0 else text


def seconds(value: object) -> str:
    """A duration, in the unit a reader expects for its size."""
    s = num(value)
    if s is None:
        return DASH
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def pct(value: object) -> str:
    p = num(value)
    return DASH if p is None else f"{p:.1f}%"


def count(value: object) -> str:
    n = num(value)
    return DASH if n is None else f"{int(n):,}"


def when(value: object) -> str:
    """A timestamp as UTC minutes; an unreadable one is shown as written, escaped later."""
    if value is None or value == "":
        return DASH
    at = value if isinstance(value, datetime) else parse_time(value)
    if at is None:
        return str(value)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _short_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%m-%d %H:%M") if at.tzinfo else at.strftime("%m-%d %H:%M")


def _text(value: object) -> str:
    """A cell of user data: escaped, or the dash for null."""
    return DASH if value is None or value == "" else esc(value)


def _engine_badge(engine: object) -> str:
    name = str(engine) if engine is not None else ""
    colour = ENGINE_COLOURS.get(name, OTHER_COLOUR)
    return f'<span class="badge" style="background:{colour}">{esc(ENGINE_LABELS.get(name, name or DASH))}</span>'


def _status_badge(status: object) -> str:
    name = str(status) if status is not None else ""
    colour = STATUS_COLOURS.get(name, {"success": "#16a34a", "skipped": "#64748b"}.get(name, OTHER_COLOUR))
    return f'<span class="badge" style="background:{colour}">{esc(name.replace("_", " ") or DASH)}</span>'


def _legend(items: Sequence[tuple[str, str]], dashed: str | None = None) -> str:
    keys = "".join(f'<span><i style="background:{colour}"></i>{esc(label)}</span>' for label, colour in items)
    if dashed:
        keys += f'<span><i class="dashed"></i>{esc(dashed)}</span>'
    return f'<div class="legend">{keys}</div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _section(ident: str, title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{ident}"><h2>{esc(title)}</h2>{note_html}{body}</section>'


# --- sections -------------------------------------------------------------------------------


def _page_title(doc: _Doc) -> str:
    environment = doc.raw.get("environment")
    return f"Dual-engine report · {environment}" if environment else "Dual-engine report · all environments"


def _header(doc: _Doc) -> str:
    window = doc.obj("window")
    days = num(window.get("days"))
    span = f"{when(window.get('since'))} → {when(window.get('until'))}"
    if days is not None:
        span += f" ({int(days)} days)"
    environment = doc.raw.get("environment")
    env = esc(environment) if environment else "all environments"
    return (
        f"<header><h1>{esc(_page_title(doc))}</h1><p>Window {esc(span)} · environment <b>{env}</b> · "
        f"generated {esc(when(doc.raw.get('generated_at')))} · amounts in {esc(doc.currency)}</p></header>"
    )


def _empty_state(doc: _Doc) -> str:
    return (
        '<section id="empty-state" class="empty"><h2>No run history yet</h2>'
        "<p>No model executions were recorded in this window, so there is nothing to chart yet.</p>"
        "<p>History is written by the pipeline itself: each SQLMesh and dbt task records its models' runs in "
        "<code>dualengine.run_history</code> in the warehouse. Run a pipeline (trigger a dual-engine DAG in "
        "Airflow, or <code>dualengine demo</code> for the example project), then build this report again with "
        "<code>dualengine report</code>; widen the window if the runs are older.</p></section>"
    )


def _card(title: str, value: str, detail: str, extra: str = "", css: str = "") -> str:
    return f'<div class="card"><h3>{esc(title)}</h3><div class="{" ".join(["value", css]).strip()}">{value}</div>{extra}<p>{detail}</p></div>'


def _cards(doc: _Doc) -> str:
    cost = doc.obj("cost")
    by_engine = _map(cost.get("by_engine"))
    shares = _map(cost.get("percentages"))
    executions = [num(doc.engine(e).get("executions")) for e in ENGINES]
    cards = [
        _card(
            "Total cost",
            esc(doc.money(cost.get("total"))),
            " · ".join(f"{ENGINE_LABELS[e]} {esc(doc.money(by_engine.get(e)))}" for e in ENGINES)
            + f" · shared {esc(doc.money(cost.get('shared')))}",
        ),
        _card(
            "Cost share",
            " / ".join(f'<span style="color:{ENGINE_COLOURS[e]}">{esc(pct(shares.get(e)))}</span>' for e in ENGINES),
            " · ".join(f"{ENGINE_LABELS[k]} {esc(pct(shares.get(k)))}" for k in (*ENGINES, "shared")),
            share_bar(
                "cost-share",
                "Cost share per engine",
                [(ENGINE_LABELS[k], num(shares.get(k)), ENGINE_COLOURS[k]) for k in (*ENGINES, "shared")],
            ),
            "tight",
        ),
        _card(
            "Executions",
            esc(count(sum(n or 0 for n in executions))),
            " · ".join(f"{ENGINE_LABELS[e]} {esc(count(n))}" for e, n in zip(ENGINES, executions, strict=True)),
        ),
    ]
    rates = []
    for e in ENGINES:
        engine = doc.engine(e)
        rate = num(engine.get("error_rate_pct"))
        css = "bad" if rate else ""
        rates.append(f'<span class="{css}" style="border-color:{ENGINE_COLOURS[e]}">{esc(pct(rate))}</span>')
    cards.append(
        _card(
            "Error rate",
            " / ".join(rates),
            " · ".join(
                f"{ENGINE_LABELS[e]} {esc(count(doc.engine(e).get('failed')))} failed of "
                f"{esc(count(doc.engine(e).get('executions')))}"
                for e in ENGINES
            ),
        )
    )
    lag = doc.obj("dependency_lag")
    edges = sorted(_list(lag.get("edges")), key=lambda edge: num(edge.get("lag_s")) or 0.0, reverse=True)
    detail = (
        f"{esc(edges[0].get('producer'))} → {esc(edges[0].get('consumer'))}" if edges else "no cross-engine edge ran"
    )
    cards.append(_card("Max dependency lag", esc(seconds(lag.get("max_s"))), detail))
    cards.append(_budget_card(doc))
    return f'<section id="cards" class="cards">{"".join(cards)}</section>'


def _budget_card(doc: _Doc) -> str:
    months = doc.rows("monthly")
    if not months:
        return _card("Budget variance", DASH, "no month in the window")
    latest = months[-1]
    month = esc(latest.get("month") or DASH)
    budget = num(latest.get("budget"))
    spent = doc.money(_map(latest.get("cost")).get("total"))
    if budget is None:
        return _card("Budget variance", DASH, f"{month}: spent {esc(spent)}, no budget set")
    variance = num(latest.get("variance"))
    sign = "+" if variance is not None and variance > 0 else ""
    value_pct = num(latest.get("variance_pct"))
    pct_text = f" ({sign}{value_pct:.1f}%)" if value_pct is not None else ""
    css = "bad" if variance is not None and variance > 0 else "good"
    return _card(
        "Budget variance",
        f'<span class="{css}">{esc(sign + doc.money(variance))}{esc(pct_text)}</span>',
        f"{month}: spent {esc(spent)} of {esc(doc.money(budget))}",
        css="tight",
    )


def _cost(doc: _Doc) -> str:
    daily = doc.rows("daily")
    cost = doc.obj("cost")
    series = [Series(k, ENGINE_LABELS[k], ENGINE_COLOURS[k]) for k in (*ENGINES, "shared")]
    if daily:
        chart = stacked_bars(
            "cost",
            "Cost per engine per day",
            [str(day.get("date") or "?") for day in daily],
            [_map(day.get("cost")) for day in daily],
            series,
            doc.money,
        )
        body = _legend([(s.label, s.colour) for s in series]) + f'<div class="wide">{chart}</div>'
    else:
        body = '<p class="empty-note">No day in the window has a recorded cost.</p>'
    months = doc.rows("monthly")
    if months:
        rows = [
            [
                _text(m.get("month")),
                esc(doc.money(_map(m.get("cost")).get("total"))),
                esc(doc.money(m.get("budget"))),
                esc(doc.money(m.get("variance"))),
                esc(pct(m.get("variance_pct"))),
            ]
            for m in months
        ]
        body += _table(["month", "cost", "budget", "variance", "variance %"], rows, "compact")
    notes = []
    if cost.get("measured"):
        notes.append(f"<b>Measured:</b> {esc(cost.get('measured'))}")
    if cost.get("estimated"):
        notes.append(f"<b>Estimated:</b> {esc(cost.get('estimated'))}")
    return _section("cost", "Cost per engine over time", body, " ".join(notes))


def _trend_points(doc: _Doc) -> dict[tuple[str, str], list[TrendPoint]]:
    grouped: dict[tuple[str, str], list[TrendPoint]] = {}
    for row in doc.rows("trend"):
        at, value = parse_time(row.get("at")), num(row.get("execution_s"))
        if at is None or value is None:
            continue
        baseline = num(row.get("baseline_s"))
        breach = baseline is not None and baseline > 0 and value > baseline * BASELINE_BREACH_FACTOR
        point = TrendPoint(at, value, baseline, str(row.get("status") or ""), breach)
        grouped.setdefault((str(row.get("engine") or ""), str(row.get("model") or "")), []).append(point)
    for points in grouped.values():
        points.sort(key=lambda p: p.at)
    return grouped


def _trends(doc: _Doc) -> str:
    grouped = _trend_points(doc)
    if not grouped:
        return _section(
            "trends", "Execution time per model", '<p class="empty-note">No timed model execution in the window.</p>'
        )
    # Models whose latest run breached their baseline first, then the slowest on average.
    ranked = sorted(
        grouped.items(),
        key=lambda item: (not item[1][-1].breach, -sum(p.value for p in item[1]) / len(item[1]), item[0]),
    )
    shown = ranked[:TREND_PANELS]
    window = doc.obj("window")
    all_times = [p.at for _, points in shown for p in points]
    since, until = parse_time(window.get("since")), parse_time(window.get("until"))
    domain = time_domain(
        all_times,
        since if since and since <= min(all_times) else None,
        until if until and until >= max(all_times) else None,
    )
    panels = []
    for (engine, model), points in shown:
        colour = ENGINE_COLOURS.get(engine, OTHER_COLOUR)
        last = points[-1]
        flag = '<span class="flag">above baseline</span>' if last.breach else ""
        chart = trend_panel("trend", f"Execution time of {engine} model {model}", points, domain, colour, seconds, when)
        panels.append(
            f'<figure class="panel{" breach" if last.breach else ""}"><figcaption>{_engine_badge(engine)} '
            f"<b>{esc(model)}</b><br>{flag}<small>last {esc(seconds(last.value))}, baseline "
            f"{esc(seconds(last.baseline))}, {len(points)} runs</small></figcaption>{chart}</figure>"
        )
    note = (
        f"The {len(shown)} slowest of {len(grouped)} models (models above their baseline first)."
        if len(grouped) > len(shown)
        else f"All {len(grouped)} models."
    )
    note += f" Red points ran over {BASELINE_BREACH_FACTOR:g}× their baseline; red rings failed."
    legend = _legend(
        [(ENGINE_LABELS[e], ENGINE_COLOURS[e]) for e in ENGINES] + [("above baseline / failed", "#dc2626")],
        dashed="baseline",
    )
    return _section(
        "trends", "Execution time per model", legend + f'<div class="panels">{"".join(panels)}</div>', esc(note)
    )


def _quality(doc: _Doc) -> str:
    sla, quality = doc.obj("sla"), doc.obj("data_quality")
    sla_pct, dq_pct = num(sla.get("compliance_pct")), num(quality.get("score_pct"))
    sla_caption = (
        f"{count(sla.get('met'))} of {count(sla.get('checks'))} checks met their SLA"
        if sla_pct is not None
        else "no check with a freshness SLA ran"
    )
    dq_caption = (
        f"{count(quality.get('passed'))} passed, {count(quality.get('failed'))} failed"
        if dq_pct is not None
        else "no test, audit or contract check ran"
    )
    body = (
        '<div class="gauges">'
        f"<figure><figcaption>SLA compliance</figcaption>{gauge('sla', 'SLA compliance', sla_pct, sla_caption)}</figure>"
        f"<figure><figcaption>Data-quality score</figcaption>{gauge('quality', 'Data-quality score', dq_pct, dq_caption)}</figure>"
        "</div>"
    )
    note = "SLA: contract checks with a freshness SLA. Data quality: dbt tests, SQLMesh audits and contract checks."
    return _section("quality", "SLA compliance and data quality", body, note)


def _lag(doc: _Doc) -> str:
    edges = sorted(
        _list(doc.obj("dependency_lag").get("edges")), key=lambda edge: num(edge.get("lag_s")) or 0.0, reverse=True
    )
    if not edges:
        return _section(
            "dependency-lag",
            "Cross-engine dependency lag",
            '<p class="empty-note">No cross-engine edge ran in the window.</p>',
        )
    rows = [
        [
            _text(e.get("producer")),
            _text(e.get("consumer")),
            esc(seconds(e.get("lag_s"))),
            esc(when(e.get("producer_ended_at"))),
            esc(when(e.get("consumer_started_at"))),
            _text(e.get("run_id")),
        ]
        for e in edges[:10]
    ]
    table = _table(["producer", "consumer", "lag", "producer ended", "consumer started", "run"], rows, "compact")
    return _section(
        "dependency-lag",
        "Cross-engine dependency lag",
        table,
        "The longest waits first: from a producer's end to its consumer's start.",
    )


def _deployments(doc: _Doc) -> str:
    deployments = doc.obj("deployments")
    recent = _list(deployments.get("recent"))
    summary = (
        f"{count(deployments.get('total'))} deployments: {count(deployments.get('succeeded'))} succeeded, "
        f"{count(deployments.get('failed'))} failed, {count(deployments.get('rolled_back'))} rolled back, "
        f"{count(deployments.get('interrupted'))} interrupted; success rate {pct(deployments.get('success_rate_pct'))}."
    )
    spans = []
    for d in recent:
        start = parse_time(d.get("started_at"))
        if start is None:
            continue
        status = str(d.get("status") or "")
        tip = f"{d.get('id')} · {status} · {when(d.get('started_at'))} → {when(d.get('finished_at'))}"
        spans.append(Span(str(d.get("environment") or DASH), start, parse_time(d.get("finished_at")), status, tip))
    if not spans:
        return _section(
            "deployments", "Deployments", '<p class="empty-note">No deployment in the window.</p>', esc(summary)
        )
    chart = timeline("deployments", "Recent deployments by status", spans, _short_time)
    legend = _legend([(status.replace("_", " "), colour) for status, colour in STATUS_COLOURS.items()])
    rows = [
        [
            esc(when(d.get("started_at"))),
            esc(when(d.get("finished_at"))),
            _text(d.get("environment")),
            _status_badge(d.get("status")),
            _text(d.get("id")),
        ]
        for d in recent
    ]
    table = _table(["started", "finished", "environment", "status", "id"], rows, "compact")
    return _section("deployments", "Deployments", legend + f'<div class="wide">{chart}</div>' + table, esc(summary))


def _failing_checks(doc: _Doc) -> str:
    checks = doc.rows("failing_checks")
    if not checks:
        return _section(
            "failing-checks", "Failing checks", '<p class="empty-note ok">No failing check in the window.</p>'
        )
    rows = [
        [
            esc(when(c.get("at"))),
            _engine_badge(c.get("engine")),
            _text(c.get("model")),
            _text(str(c.get("kind") or "").replace("_", " ")),
            f"{_text(c.get('dag_id'))}<br><small>{_text(c.get('task_id'))}<br>{_text(c.get('run_id'))}</small>",
            f'<div class="message">{_text(c.get("message"))}</div>',
        ]
        for c in checks
    ]
    table = _table(["when", "engine", "model", "kind", "DAG / task / run", "message"], rows, "checks")
    return _section("failing-checks", "Failing checks", table, f"{len(checks)} failures, newest first.")


def _models(doc: _Doc) -> str:
    models = doc.rows("models")
    if not models:
        return _section("models", "Models", '<p class="empty-note">No model ran in the window.</p>')
    rows = []
    for m in models:
        last, baseline = num(m.get("last_execution_s")), num(m.get("baseline_s"))
        breach = last is not None and baseline is not None and baseline > 0 and last > baseline * BASELINE_BREACH_FACTOR
        rows.append(
            [
                _engine_badge(m.get("engine")),
                _text(m.get("model")),
                esc(count(m.get("runs"))),
                esc(count(m.get("failed"))),
                esc(seconds(m.get("avg_execution_s"))),
                esc(seconds(baseline)),
                f'<span class="{"bad" if breach else ""}">{esc(seconds(last))}</span>',
                _status_badge(m.get("last_status")),
                esc(when(m.get("last_run_at"))),
                esc(count(m.get("rows_last"))),
                esc(doc.money(m.get("cost"))),
            ]
        )
    headers = ["engine", "model", "runs", "failed", "avg", "baseline", "last", "status", "last run", "rows", "cost"]
    return _section("models", "Models", _table(headers, rows, "compact"))


def _footer(doc: _Doc) -> str:
    return (
        "<footer>Generated by airflow-provider-dualengine from the run history in the warehouse "
        f"(<code>dualengine.run_history</code>, <code>dualengine.deployments</code>) at {esc(when(doc.raw.get('generated_at')))}. "
        "This file is self-contained: it loads nothing and can be shared as is.</footer>"
    )


REPORT_CSS = """
:root{--ink:#0f172a;--muted:#475569;--line:#e2e8f0;--bg:#f8fafc;--sqlmesh:#7c3aed;--dbt:#f97316;--bad:#dc2626;--good:#16a34a}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:24px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0 0 16px;color:var(--muted)}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:0 0 18px}
section h2{margin:0 0 6px;font-size:17px}
.note{margin:0 0 10px;color:var(--muted);font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:12px;background:none;border:0;padding:0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.card h3{margin:0;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.card .value{font-size:24px;font-weight:650;margin:4px 0}
.card .value span[style*=border]{border-bottom:3px solid;padding:0 2px}
.card p{margin:6px 0 0;color:var(--muted);font-size:12px;word-break:break-word}
.bad{color:var(--bad)}.good{color:var(--good)}
.chart{max-width:100%;height:auto;display:block}
.wide .chart,.panel .chart{width:100%}
.card .value.tight{font-size:19px}
.wide{overflow-x:auto}
.legend{display:flex;flex-wrap:wrap;gap:14px;margin:4px 0 8px;font-size:12.5px;color:var(--muted)}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.legend i.dashed{height:0;width:18px;border-top:2px dashed var(--muted);border-radius:0;vertical-align:3px}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
figure{margin:0}
.panel{border:1px solid var(--line);border-radius:8px;padding:8px}
.panel.breach{border-color:var(--bad);box-shadow:0 0 0 1px var(--bad) inset}
.panel figcaption{font-size:12.5px;margin-bottom:4px;word-break:break-all}
.flag{margin-right:6px;color:#fff;background:var(--bad);border-radius:4px;padding:0 5px;font-size:11px}
.gauges{display:flex;flex-wrap:wrap;gap:32px}
.gauges figcaption{font-weight:600;text-align:center}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:0 6px;font-size:11.5px;white-space:nowrap}
table{border-collapse:collapse;width:100%;margin-top:10px;font-size:12.5px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:var(--bg)}
td small{color:var(--muted)}
.message{white-space:pre-wrap;word-break:break-word;max-height:9em;overflow:auto;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.empty h2{font-size:20px}
.empty-note{color:var(--muted);font-style:italic}
.empty-note.ok{color:var(--good);font-style:normal}
code{background:#f1f5f9;border-radius:4px;padding:0 4px}
footer{color:var(--muted);font-size:12px;margin:8px 0 24px}
@media print{body{background:#fff}section{break-inside:avoid}}
"""
