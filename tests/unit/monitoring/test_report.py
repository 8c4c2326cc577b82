"""The HTML report's structure, from synthetic metrics documents (no browser: see
tests/integration/test_report_browser.py for the rendering itself)."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.monitoring.report import money, render_report, seconds, write_report
from airflow_provider_dualengine.monitoring.report_charts import nice_ticks

SQLMESH, DBT, SHARED = "#7c3aed", "#f97316", "#94a3b8"


def _engine(executions: int, failed: int) -> dict[str, Any]:
    return {
        "executions": executions,
        "failed": failed,
        "error_rate_pct": failed / executions * 100 if executions else None,
        "execution_s": 10.0 if executions else 0.0,
        "avg_execution_s": 10.0 / executions if executions else None,
        "busy_share_pct": 50.0 if executions else None,
        "cost": 0.25 if executions else 0.0,
        "cost_share_pct": 50.0 if executions else None,
    }


def _trend(engine: str, model: str, values: list[float], baseline: float | None) -> list[dict[str, Any]]:
    return [
        {
            "at": f"2026-12-0{day + 1}T10:00:00+00:00",
            "engine": engine,
            "model": model,
            "execution_s": value,
            "baseline_s": baseline,
            "status": "success",
        }
        for day, value in enumerate(values)
    ]


def document(**changes: Any) -> dict[str, Any]:
    """A small document with both engines, two days, a breach, a failing check and three deployments."""
    doc: dict[str, Any] = {
        "generated_at": "2026-12-07T12:00:00+00:00",
        "window": {"since": "2026-12-01T00:00:00+00:00", "until": "2026-12-07T12:00:00+00:00", "days": 7},
        "environment": "development",
        "currency": "USD",
        "engines": {"sqlmesh": _engine(4, 1), "dbt": _engine(2, 0)},
        "models": [
            {
                "engine": "dbt",
                "model": "customer_value",
                "runs": 2,
                "failed": 0,
                "avg_execution_s": 0.4,
                "baseline_s": 0.38,
                "last_execution_s": 0.41,
                "last_status": "success",
                "last_run_at": "2026-12-02T10:00:00+00:00",
                "rows_last": 33,
                "cost": 0.001,
            },
            {
                "engine": "sqlmesh",
                "model": "staging.stg_orders",
                "runs": 4,
                "failed": 1,
                "avg_execution_s": 2.0,
                "baseline_s": 1.0,
                "last_execution_s": 4.0,
                "last_status": "failed",
                "last_run_at": "2026-12-04T10:00:00+00:00",
                "rows_last": None,
                "cost": 0.2,
            },
        ],
        "trend": _trend("sqlmesh", "staging.stg_orders", [1.0, 1.1, 0.9, 4.0], 1.0)
        + _trend("dbt", "customer_value", [0.4, 0.41], 0.38),
        "daily": [
            {
                "date": "2026-12-01",
                "cost": {"sqlmesh": 0.25, "dbt": 0.25, "shared": 0.5, "total": 1.0},
                "execution_s": {"sqlmesh": 5.0, "dbt": 1.0},
            },
            {
                "date": "2026-12-02",
                "cost": {"sqlmesh": 0.5, "dbt": 0.0, "shared": 0.0, "total": 0.5},
                "execution_s": {"sqlmesh": 5.0, "dbt": 0.0},
            },
        ],
        "monthly": [
            {
                "month": "2026-12",
                "cost": {"sqlmesh": 0.75, "dbt": 0.25, "shared": 0.5, "total": 1.5},
                "budget": 500.0,
                "variance": -498.5,
                "variance_pct": -99.7,
            }
        ],
        "cost": {
            "total": 1.5,
            "by_engine": {"sqlmesh": 0.75, "dbt": 0.25},
            "shared": 0.5,
            "percentages": {"sqlmesh": 50.0, "dbt": 16.7, "shared": 33.3},
            "measured": "execution seconds",
            "estimated": "dollars from a rate",
        },
        "dependency_lag": {
            "max_s": 12.0,
            "edges": [
                {
                    "producer": "sqlmesh:intermediate.customer_lifetime",
                    "consumer": "dbt:customer_value",
                    "run_id": "manual__1",
                    "producer_ended_at": "2026-12-01T10:00:00+00:00",
                    "consumer_started_at": "2026-12-01T10:00:12+00:00",
                    "lag_s": 12.0,
                }
            ],
        },
        "data_quality": {"passed": 40, "failed": 1, "score_pct": 97.6},
        "sla": {"checks": 6, "met": 6, "compliance_pct": 100.0},
        "deployments": {
            "total": 3,
            "succeeded": 2,
            "failed": 0,
            "rolled_back": 1,
            "interrupted": 0,
            "success_rate_pct": 66.7,
            "recent": [
                {
                    "id": "dep-3",
                    "environment": "production",
                    "status": "rolled_back",
                    "started_at": "2026-12-05T09:00:00+00:00",
                    "finished_at": "2026-12-05T09:20:00+00:00",
                },
                {
                    "id": "dep-2",
                    "environment": "production",
                    "status": "succeeded",
                    "started_at": "2026-12-03T09:00:00+00:00",
                    "finished_at": "2026-12-03T09:10:00+00:00",
                },
                {
                    "id": "dep-1",
                    "environment": "staging",
                    "status": "succeeded",
                    "started_at": "2026-12-02T09:00:00+00:00",
                    "finished_at": None,
                },
            ],
        },
        "failing_checks": [
            {
                "at": "2026-12-04T10:00:00+00:00",
                "engine": "sqlmesh",
                "model": "staging.customer_enhanced",
                "kind": "contract_check",
                "dag_id": "dualengine_development",
                "run_id": "manual__4",
                "task_id": "stage_1.contract__staging__customer_enhanced",
                "message": "column email: 3 nulls",
            }
        ],
    }
    doc.update(changes)
    return doc


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


def section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}"')
    return page[start : page.index("</section>", start)]


def test_a_report_draws_every_chart() -> None:
    tags = _Tags(render_report(document()))

    charts = [str(a["data-chart"]) for a in tags.find("svg")]
    assert sorted(charts) == sorted(["cost-share", "cost", "trend", "trend", "sla", "quality", "deployments"])


def test_cost_bars_stack_each_engine_in_its_colour_and_scale() -> None:
    page = render_report(document())
    tags = _Tags(section(page, "cost"))

    segments = [(a["data-series"], a["fill"], float(a["height"] or "nan")) for a in tags.find("rect")]
    # day 1: 0.25 + 0.25 + 0.5 on an axis to 1.0 over 234 px; day 2: sqlmesh 0.5 only (zeros are not drawn)
    assert segments == [
        ("sqlmesh", SQLMESH, 58.5),
        ("dbt", DBT, 58.5),
        ("shared", SHARED, 117.0),
        ("sqlmesh", SQLMESH, 117.0),
    ]
    assert "2026-12-01 · total $1.00" in page
    assert "2026-12-02 · SQLMesh: $0.50" in page


def test_header_cards_show_the_totals() -> None:
    cards = section(render_report(document()), "cards")
    text = " ".join(_Tags(cards).text)

    assert "$1.50" in text  # total cost
    assert "SQLMesh $0.75 · dbt $0.25 · shared $0.50" in text
    assert "25.0%" in text and "0.0%" in text  # error rate: 1 of 4 sqlmesh, 0 of 2 dbt
    assert "12.0 s" in text  # max dependency lag
    assert "sqlmesh:intermediate.customer_lifetime → dbt:customer_value" in text
    assert "-$498.50 (-99.7%)" in text  # budget variance of the month


def test_trend_panels_put_the_model_above_its_baseline_first() -> None:
    page = render_report(document())
    trends = section(page, "trends")

    assert trends.index("staging.stg_orders") < trends.index("customer_value")
    assert trends.count('class="panel breach"') == 1
    tags = _Tags(trends)
    breaches = tags.find("circle", **{"class": "point breach"})
    assert len(breaches) == 1 and breaches[0]["fill"] == "#dc2626"
    assert len(tags.find("polyline", **{"class": "baseline"})) == 2


def test_only_the_slowest_models_get_a_panel() -> None:
    trend = []
    for i in range(15):
        trend += _trend("dbt", f"model_{i:02d}", [float(i + 1), float(i + 1)], None)
    page = render_report(document(trend=trend))

    trends = section(page, "trends")
    assert trends.count('data-chart="trend"') == 12
    assert "The 12 slowest of 15 models" in trends
    assert "model_14" in trends and "model_03" in trends and "model_02" not in trends


def test_quality_gauges_show_sla_and_score() -> None:
    quality = section(render_report(document()), "quality")
    text = " ".join(_Tags(quality).text)

    assert "100.0%" in text and "6 of 6 checks met their SLA" in text
    assert "97.6%" in text and "40 passed, 1 failed" in text


def test_deployments_are_coloured_by_status() -> None:
    deployments = section(render_report(document()), "deployments")
    rects = _Tags(deployments).find("rect")

    assert [(r["data-status"], r["fill"]) for r in rects] == [
        ("rolled_back", "#eab308"),
        ("succeeded", "#16a34a"),
        ("succeeded", "#16a34a"),
    ]
    assert "3 deployments: 2 succeeded, 0 failed, 1 rolled back, 0 interrupted; success rate 66.7%." in deployments


def test_failing_checks_are_listed_one_row_each() -> None:
    checks = section(render_report(document()), "failing-checks")

    assert checks.count("<tr>") == 2  # header and one check
    assert "column email: 3 nulls" in checks and "staging.customer_enhanced" in checks


def test_user_data_is_escaped() -> None:
    evil_model = '<img src=x onerror="alert(1)">'
    evil_message = '</td><script>alert("x")</script> & more'
    doc = document()
    doc["trend"] = _trend("dbt", evil_model, [1.0, 2.0], 1.0)
    doc["failing_checks"][0]["message"] = evil_message
    doc["models"][0]["model"] = evil_model
    page = render_report(doc)

    assert "<script" not in page and "<img" not in page
    assert "&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_the_page_loads_nothing() -> None:
    page = render_report(document())

    for needle in ("://", "src=", "href=", "url(", "@import", "<script", "<link", "<iframe"):
        assert needle not in page


def test_nulls_render_as_a_dash() -> None:
    doc = document(
        dependency_lag={"max_s": None, "edges": []},
        sla={"checks": 0, "met": 0, "compliance_pct": None},
        monthly=[{"month": "2026-12", "cost": {"total": 1.5}, "budget": None, "variance": None, "variance_pct": None}],
    )
    page = render_report(doc)
    cards = section(page, "cards")

    assert '<h3>Max dependency lag</h3><div class="value">—</div>' in cards
    assert '<h3>Budget variance</h3><div class="value">—</div>' in cards
    assert "no budget set" in cards and "no cross-engine edge ran" in cards
    assert "no check with a freshness SLA ran" in section(page, "quality")
    quality = _Tags(section(page, "quality"))
    assert len(quality.find("path", **{"class": "value"})) == 1  # only the data-quality gauge has a value arc


def test_every_coordinate_is_a_finite_number_even_from_nan_values() -> None:
    doc = document()
    doc["trend"] += _trend("dbt", "broken", [math.nan, math.inf, 1.0], math.nan)
    doc["daily"][0]["cost"]["dbt"] = math.nan
    doc["cost"]["percentages"]["dbt"] = math.inf
    page = render_report(doc)

    coordinates = re.findall(r'\s(?:x|y|x1|x2|y1|y2|cx|cy|r|width|height)="([^"]*)"', page)
    assert coordinates and all(math.isfinite(float(c)) for c in coordinates)
    for points in re.findall(r'points="([^"]*)"', page):
        assert all(math.isfinite(float(v)) for pair in points.split() for v in pair.split(","))
    assert "nan" not in page.lower()


@pytest.mark.parametrize("doc", [document(engines={"sqlmesh": _engine(0, 0), "dbt": _engine(0, 0)}, trend=[]), {}])
def test_no_history_says_how_to_get_some(doc: dict[str, Any]) -> None:
    page = render_report(doc)

    assert "No run history yet" in page
    assert "Run a pipeline" in page and "dualengine demo" in page
    assert 'id="cards"' not in page and 'data-chart="cost"' not in page and 'data-chart="trend"' not in page
    assert "nan" not in page.lower()


def test_no_history_still_shows_deployments_and_failed_checks() -> None:
    page = render_report(document(engines={}, trend=[]))

    assert "No run history yet" in page
    assert page.count('data-chart="deployments"') == 1
    assert "column email: 3 nulls" in page


def test_write_report_writes_one_utf8_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "report.html"

    assert write_report(document(), target) == target
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "Dual-engine report · development" in page and "—" in page


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [(0.001, "USD", "$0.0010"), (-480.0, "USD", "-$480.00"), (1234.5, "EUR", "€1,234.50"), (12.5, "CHF", "12.50 CHF")],
)
def test_money(value: float, currency: str, text: str) -> None:
    assert money(value, currency) == text


def test_formatting_of_missing_and_odd_values() -> None:
    assert money(None) == "—" and money(math.nan) == "—" and money(True) == "—"
    assert [seconds(v) for v in (0.412, 42.0, 125.0, 7300.0, None)] == [
        "0.41 s",
        "42.0 s",
        "2 min 05 s",
        "2 h 01 min",
        "—",
    ]


@pytest.mark.parametrize(
    ("maximum", "ticks"), [(1.0, [0, 0.25, 0.5, 0.75, 1.0]), (0.0, [0, 0.25, 0.5, 0.75, 1.0]), (7.0, [0, 2, 4, 6, 8])]
)
def test_axis_ticks_are_round_and_reach_the_maximum(maximum: float, ticks: list[float]) -> None:
    assert nice_ticks(maximum) == pytest.approx(ticks)
