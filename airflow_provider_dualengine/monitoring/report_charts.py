"""Inline SVG charts for the HTML report, drawn in Python.

The report must open offline and from a mail attachment, so there is no chart library and no
script: each chart is a plain `<svg>` string whose hover texts are SVG `<title>` elements. Every
number passes `num()` first: a null, NaN or infinite value from the document is left out of a
chart instead of becoming a `NaN` coordinate that makes the browser drop the shape.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ENGINE_COLOURS = {"sqlmesh": "#7c3aed", "dbt": "#f97316", "shared": "#94a3b8"}
OTHER_COLOUR = "#64748b"
STATUS_COLOURS = {
    "succeeded": "#16a34a",
    "failed": "#dc2626",
    "rolled_back": "#eab308",
    "interrupted": "#64748b",
    "running": "#2563eb",
}
AXIS = "#cbd5e1"
INK = "#475569"
BREACH = "#dc2626"
FONT = 'font-family="system-ui, sans-serif"'


def esc(text: object) -> str:
    """Text from the document (model names, messages) is user data: always escaped."""
    return html.escape(str(text), quote=True)


def num(value: object) -> float | None:
    """A finite number, or None (bools, strings, NaN and infinities are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp from the document, or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _f(value: float) -> str:
    return f"{value:.1f}"


def nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis ticks from 0 to at least `maximum` (1 when there is nothing to show)."""
    if maximum <= 0:
        maximum = 1.0
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for multiple in (1, 2, 2.5, 5, 10):
        if multiple * magnitude * count >= maximum:
            step = multiple * magnitude
            break
    return [step * i for i in range(count + 1)]


def _svg(name: str, width: int, height: int, label: str, body: Sequence[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{esc(name)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{esc(label)}" {FONT} font-size="11">'
        f"<title>{esc(label)}</title>{''.join(body)}</svg>"
    )


def _y_axis(
    ticks: list[float], y: Callable[[float], float], left: float, right: float, fmt: Callable[[float], str]
) -> list[str]:
    parts = []
    for tick in ticks:
        pos = _f(y(tick))
        parts.append(f'<line x1="{_f(left)}" y1="{pos}" x2="{_f(right)}" y2="{pos}" stroke="{AXIS}" stroke-width="1"/>')
        parts.append(
            f'<text x="{_f(left - 6)}" y="{pos}" dy="0.32em" text-anchor="end" fill="{INK}">{esc(fmt(tick))}</text>'
        )
    return parts


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    colour: str


def stacked_bars(
    name: str,
    label: str,
    categories: Sequence[str],
    values: Sequence[Mapping[str, object]],
    series: Sequence[Series],
    fmt: Callable[[float], str],
    width: int = 1200,
    height: int = 280,
) -> str:
    """One stacked bar per category (a day), one segment per series; hover shows the values."""
    left, right, top, bottom = 70.0, 12.0, 12.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(max(num(row.get(s.key)) or 0.0, 0.0) for s in series) for row in values]
    ticks = nice_ticks(max(totals, default=0.0))
    top_value = ticks[-1]

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / top_value

    parts = _y_axis(ticks, y, left, width - right, fmt)
    slot = plot_w / max(len(categories), 1)
    bar_w = min(slot * 0.7, 48.0)
    every = max(1, math.ceil(len(categories) / 20))
    for i, (category, row) in enumerate(zip(categories, values, strict=False)):
        x = left + slot * i + (slot - bar_w) / 2
        base = 0.0
        segments = []
        for s in series:
            value = max(num(row.get(s.key)) or 0.0, 0.0)
            if value > 0:
                y0, y1 = y(base + value), y(base)
                segments.append(
                    f'<rect data-series="{esc(s.key)}" x="{_f(x)}" y="{_f(y0)}" width="{_f(bar_w)}" '
                    f'height="{_f(max(y1 - y0, 0.5))}" fill="{s.colour}"><title>{esc(category)} · {esc(s.label)}: '
                    f"{esc(fmt(value))}</title></rect>"
                )
            base += value
        parts.append(
            f'<g class="bar"><title>{esc(category)} · total {esc(fmt(totals[i]))}</title>{"".join(segments)}</g>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{_f(x + bar_w / 2)}" y="{_f(height - bottom + 16)}" text-anchor="middle" fill="{INK}">'
                f"{esc(category[5:] if len(category) == 10 else category)}</text>"
            )
    parts.append(f'<line x1="{_f(left)}" y1="{_f(y(0))}" x2="{_f(width - right)}" y2="{_f(y(0))}" stroke="{INK}"/>')
    return _svg(name, width, height, label, parts)


@dataclass(frozen=True)
class TrendPoint:
    at: datetime
    value: float
    baseline: float | None
    status: str
    breach: bool


def _time_scale(domain: tuple[datetime, datetime], left: float, right: float) -> Callable[[datetime], float]:
    start, end = domain
    span = (end - start).total_seconds() or 1.0
    return lambda at: left + (right - left) * min(max((at - start).total_seconds() / span, 0.0), 1.0)


def time_domain(
    times: Sequence[datetime], since: datetime | None = None, until: datetime | None = None
) -> tuple[datetime, datetime]:
    """The window when known, else the span of the times, never of zero length."""
    start = since or min(times, default=None)
    end = until or max(times, default=None)
    if start is None or end is None:
        raise ValueError("a time domain needs a window or at least one time")
    if end <= start:
        start, end = start - timedelta(hours=1), start + timedelta(hours=1)
    return start, end


def trend_panel(
    name: str,
    label: str,
    points: Sequence[TrendPoint],
    domain: tuple[datetime, datetime],
    colour: str,
    fmt: Callable[[float], str],
    when: Callable[[datetime], str],
    width: int = 300,
    height: int = 150,
) -> str:
    """Execution time of one model over the window: a line with its points, the baseline dashed,
    failed runs as red rings, runs well above their baseline as filled red points."""
    left, right, top, bottom = 52.0, 10.0, 10.0, 24.0
    highest = max([p.value for p in points] + [p.baseline for p in points if p.baseline is not None], default=0.0)
    ticks = nice_ticks(highest, 3)

    def y(value: float) -> float:
        return top + (height - top - bottom) * (1 - value / ticks[-1])

    x = _time_scale(domain, left, width - right)
    parts = _y_axis(ticks, y, left, width - right, fmt)
    for at, anchor in ((domain[0], "start"), (domain[1], "end")):
        parts.append(
            f'<text x="{_f(x(at))}" y="{_f(height - 6)}" text-anchor="{anchor}" fill="{INK}">{esc(at.strftime("%m-%d"))}</text>'
        )
    baseline = [(x(p.at), y(p.baseline)) for p in points if p.baseline is not None]
    if len(baseline) == 1:
        baseline = [(left, baseline[0][1]), (width - right, baseline[0][1])]
    if baseline:
        coords = " ".join(f"{_f(px)},{_f(py)}" for px, py in baseline)
        parts.append(
            f'<polyline class="baseline" points="{coords}" fill="none" stroke="{INK}" stroke-width="1.5" stroke-dasharray="5 4">'
            "<title>baseline</title></polyline>"
        )
    if len(points) > 1:
        coords = " ".join(f"{_f(x(p.at))},{_f(y(p.value))}" for p in points)
        parts.append(f'<polyline class="line" points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for p in points:
        baseline_text = f" (baseline {fmt(p.baseline)})" if p.baseline is not None else ""
        tip = f"{when(p.at)} · {fmt(p.value)}{baseline_text} · {p.status}"
        if p.status == "failed":
            style = f'r="4" fill="#ffffff" stroke="{BREACH}" stroke-width="2"'
        elif p.breach:
            style = f'r="4" fill="{BREACH}"'
        else:
            style = f'r="3" fill="{colour}"'
        parts.append(
            f'<circle class="point{" breach" if p.breach else ""}" cx="{_f(x(p.at))}" cy="{_f(y(p.value))}" {style}>'
            f"<title>{esc(tip)}</title></circle>"
        )
    return _svg(name, width, height, label, parts)


def gauge(name: str, label: str, pct: float | None, caption: str, width: int = 240, height: int = 140) -> str:
    """A half-circle gauge of a percentage; without one, an empty grey arc and a dash."""
    cx, cy, r = width / 2, height - 24.0, 90.0

    def point(fraction: float) -> str:
        angle = math.pi * (1 - fraction)
        return f"{_f(cx + r * math.cos(angle))} {_f(cy - r * math.sin(angle))}"

    parts = [
        f'<path d="M {point(0)} A {_f(r)} {_f(r)} 0 0 1 {point(1)}" fill="none" stroke="#e2e8f0" stroke-width="18"/>'
    ]
    if pct is not None:
        fraction = min(max(pct / 100, 0.0), 1.0)
        colour = "#16a34a" if pct >= 99 else "#eab308" if pct >= 95 else "#dc2626"
        if fraction > 0:
            parts.append(
                f'<path class="value" d="M {point(0)} A {_f(r)} {_f(r)} 0 0 1 {point(fraction)}" fill="none" '
                f'stroke="{colour}" stroke-width="18"><title>{esc(label)}: {pct:.1f}%</title></path>'
            )
        value = f"{pct:.1f}%"
    else:
        value = "—"
    parts.append(
        f'<text x="{_f(cx)}" y="{_f(cy - 12)}" text-anchor="middle" font-size="26" font-weight="600" fill="#0f172a">{esc(value)}</text>'
    )
    parts.append(f'<text x="{_f(cx)}" y="{_f(cy + 16)}" text-anchor="middle" fill="{INK}">{esc(caption)}</text>')
    return _svg(name, width, height, label, parts)


@dataclass(frozen=True)
class Span:
    lane: str
    start: datetime
    end: datetime | None
    status: str
    tip: str


def timeline(name: str, label: str, spans: Sequence[Span], when: Callable[[datetime], str], width: int = 1200) -> str:
    """Deployments as bars on a time axis, one lane per environment, coloured by status."""
    lanes = sorted({s.lane for s in spans})
    left, right, top, lane_h = 130.0, 16.0, 8.0, 30.0
    height = int(top + lane_h * len(lanes) + 30)
    times = [s.start for s in spans] + [s.end for s in spans if s.end is not None]
    start, end = time_domain(times)
    pad = (end - start) * 0.03
    domain = (start - pad, end + pad)
    x = _time_scale(domain, left, width - right)
    parts = []
    for i, lane in enumerate(lanes):
        mid = top + lane_h * i + lane_h / 2
        parts.append(
            f'<text x="{_f(left - 8)}" y="{_f(mid)}" dy="0.32em" text-anchor="end" fill="{INK}">{esc(lane)}</text>'
        )
        parts.append(f'<line x1="{_f(left)}" y1="{_f(mid)}" x2="{_f(width - right)}" y2="{_f(mid)}" stroke="{AXIS}"/>')
    for s in spans:
        mid = top + lane_h * lanes.index(s.lane) + lane_h / 2
        x0 = x(s.start)
        x1 = max(x(s.end) if s.end is not None else x0, x0 + 8)
        colour = STATUS_COLOURS.get(s.status, OTHER_COLOUR)
        parts.append(
            f'<rect data-status="{esc(s.status)}" x="{_f(x0)}" y="{_f(mid - 9)}" width="{_f(x1 - x0)}" height="18" rx="3" '
            f'fill="{colour}"><title>{esc(s.tip)}</title></rect>'
        )
    axis_y = top + lane_h * len(lanes) + 4
    parts.append(f'<line x1="{_f(left)}" y1="{_f(axis_y)}" x2="{_f(width - right)}" y2="{_f(axis_y)}" stroke="{INK}"/>')
    for at, text in time_ticks(domain, when):
        parts.append(
            f'<line x1="{_f(x(at))}" y1="{_f(axis_y)}" x2="{_f(x(at))}" y2="{_f(axis_y + 4)}" stroke="{INK}"/>'
        )
        parts.append(
            f'<text x="{_f(x(at))}" y="{_f(axis_y + 16)}" text-anchor="middle" fill="{INK}">{esc(text)}</text>'
        )
    return _svg(name, width, height, label, parts)


def time_ticks(domain: tuple[datetime, datetime], when: Callable[[datetime], str]) -> list[tuple[datetime, str]]:
    """Midnights (at most 8 of them) over a span of days; three even ticks with times over a shorter span."""
    start, end = domain
    if end - start >= timedelta(days=2):
        first = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        days = (end - first).days + 1
        step = max(1, math.ceil(days / 8))
        return [
            (first + timedelta(days=d), (first + timedelta(days=d)).strftime("%m-%d")) for d in range(0, days, step)
        ]
    return [(start + (end - start) * (i / 4), when(start + (end - start) * (i / 4))) for i in range(1, 4)]


def share_bar(name: str, label: str, parts: Sequence[tuple[str, float | None, str]], width: int = 240) -> str:
    """One horizontal bar split by share (percentages); an empty grey bar when nothing is known."""
    known = [(text, pct, colour) for text, pct, colour in parts if pct is not None and pct > 0]
    total = sum(pct for _, pct, _ in known)
    body = [f'<rect x="0" y="0" width="{width}" height="14" rx="3" fill="#e2e8f0"/>']
    offset = 0.0
    for text, pct, colour in known:
        w = width * pct / total
        body.append(
            f'<rect data-series="{esc(text)}" x="{_f(offset)}" y="0" width="{_f(w)}" height="14" fill="{colour}">'
            f"<title>{esc(text)}: {pct:.1f}%</title></rect>"
        )
        offset += w
    return _svg(name, width, 14, label, body)
