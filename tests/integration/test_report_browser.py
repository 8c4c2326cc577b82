"""The HTML report in a real browser: headless Chromium loads it offline, with no console error
and no request besides the file itself, every chart draws, and the screenshot shows the charts.

Chromium is driven over the DevTools protocol (tests/browser.py; `--remote-debugging-pipe`: JSON
messages ended by NUL on file descriptors 3 and 4), so the test needs no Python package beyond
the standard library. Without /usr/bin/chromium the test is skipped, unless CI is set: then it
fails (scripts/install_chromium.sh installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.monitoring.report import write_report
from tests.browser import DevTools, chromium_missing, open_browser, png_pixels

SQLMESH_RGB, DBT_RGB = (0x7C, 0x3A, 0xED), (0xF9, 0x73, 0x16)


@pytest.fixture(scope="module")
def browser() -> Iterator[DevTools]:
    reason = chromium_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    with open_browser() as devtools:
        yield devtools


CHART_CHECK = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBBox(), shown = svg.getBoundingClientRect();
    return {name: svg.dataset.chart, width: box.width, height: box.height, shown: shown.width > 0 && shown.height > 0};
  });
  return {title: document.title, charts, height: document.documentElement.scrollHeight,
          sections: [...document.querySelectorAll('section')].map(s => s.id)};
})()"""


def realistic_document() -> dict[str, Any]:
    """Six days of two pipeline runs a day on both engines; the last run of
    intermediate.customer_lifetime is three times its baseline, one dbt run failed, a contract
    check failed and the last production deployment was rolled back."""
    until = datetime(2026, 12, 7, 12, tzinfo=UTC)
    since = until - timedelta(days=6)
    models = {
        ("sqlmesh", "staging.stg_orders"): 1.2,
        ("sqlmesh", "staging.stg_customers"): 0.8,
        ("sqlmesh", "intermediate.customer_lifetime"): 2.5,
        ("dbt", "customer_value"): 0.6,
        ("dbt", "order_summary"): 1.6,
    }
    trend: list[dict[str, Any]] = []
    history: dict[tuple[str, str], list[float]] = {key: [] for key in models}
    for day in range(6):
        for hour in (6, 18):
            at = since + timedelta(days=day, hours=hour)
            for i, (key, typical) in enumerate(models.items()):
                value = typical * (1 + 0.08 * ((day * 3 + hour + i) % 5 - 2))
                last = day == 5 and hour == 18
                if last and key[1] == "intermediate.customer_lifetime":
                    value = typical * 3
                status = "failed" if (day, hour, key[1]) == (3, 6, "order_summary") else "success"
                past = sorted(history[key][-10:])
                baseline = past[len(past) // 2] if past else None
                trend.append(
                    {
                        "at": (at + timedelta(seconds=10 * i)).isoformat(),
                        "engine": key[0],
                        "model": key[1],
                        "execution_s": round(value, 3),
                        "baseline_s": baseline,
                        "status": status,
                    }
                )
                history[key].append(round(value, 3))
    daily: list[dict[str, Any]] = []
    for day in range(6):
        seconds = {
            e: sum(t["execution_s"] for t in trend if t["engine"] == e and t["at"][:10] == _day(since, day))
            for e in ("sqlmesh", "dbt")
        }
        cost = {e: round(s * 0.0125, 4) for e, s in seconds.items()}
        cost["shared"] = 0.16
        cost["total"] = round(sum(cost.values()), 4)
        daily.append({"date": _day(since, day), "cost": cost, "execution_s": seconds})
    by_engine = {e: round(sum(d["cost"][e] for d in daily), 4) for e in ("sqlmesh", "dbt")}
    total = round(sum(d["cost"]["total"] for d in daily), 4)
    shared = round(total - sum(by_engine.values()), 4)
    engines: dict[str, dict[str, Any]] = {}
    for engine in ("sqlmesh", "dbt"):
        runs = [t for t in trend if t["engine"] == engine]
        failed = sum(t["status"] == "failed" for t in runs)
        busy = sum(t["execution_s"] for t in runs)
        engines[engine] = {
            "executions": len(runs),
            "failed": failed,
            "error_rate_pct": round(failed / len(runs) * 100, 1),
            "execution_s": round(busy, 2),
            "avg_execution_s": round(busy / len(runs), 3),
            "busy_share_pct": round(busy / sum(t["execution_s"] for t in trend) * 100, 1),
            "cost": by_engine[engine],
            "cost_share_pct": round(by_engine[engine] / sum(by_engine.values()) * 100, 1),
        }
    model_rows: list[dict[str, Any]] = []
    for engine, model in sorted(models):
        runs = [t for t in trend if (t["engine"], t["model"]) == (engine, model)]
        model_rows.append(
            {
                "engine": engine,
                "model": model,
                "runs": len(runs),
                "failed": sum(t["status"] == "failed" for t in runs),
                "avg_execution_s": round(sum(t["execution_s"] for t in runs) / len(runs), 3),
                "baseline_s": runs[-1]["baseline_s"],
                "last_execution_s": runs[-1]["execution_s"],
                "last_status": runs[-1]["status"],
                "last_run_at": runs[-1]["at"],
                "rows_last": 1200 if engine == "sqlmesh" else None,
                "cost": round(sum(t["execution_s"] for t in runs) * 0.0125, 4),
            }
        )
    deployment_times = [
        (since + timedelta(days=d, hours=9), minutes) for d, minutes in ((0, 12), (2, 9), (4, 15), (5, 21))
    ]
    statuses = ["succeeded", "succeeded", "failed", "rolled_back"]
    recent = [
        {
            "id": f"dep-{i + 1:04d}",
            "environment": "production" if i != 2 else "staging",
            "status": status,
            "started_at": start.isoformat(),
            "finished_at": (start + timedelta(minutes=minutes)).isoformat(),
        }
        for i, ((start, minutes), status) in enumerate(zip(deployment_times, statuses, strict=True))
    ][::-1]
    return {
        "generated_at": until.isoformat(),
        "window": {"since": since.isoformat(), "until": until.isoformat(), "days": 7},
        "environment": "production",
        "currency": "USD",
        "engines": engines,
        "models": model_rows,
        "trend": trend,
        "daily": daily,
        "monthly": [
            {
                "month": "2026-12",
                "cost": {**by_engine, "shared": shared, "total": total},
                "budget": 2.0,
                "variance": round(total - 2.0, 4),
                "variance_pct": round((total - 2.0) / 2.0 * 100, 1),
            }
        ],
        "cost": {
            "total": total,
            "by_engine": by_engine,
            "shared": shared,
            "percentages": {
                "sqlmesh": round(by_engine["sqlmesh"] / total * 100, 1),
                "dbt": round(by_engine["dbt"] / total * 100, 1),
                "shared": round(shared / total * 100, 1),
            },
            "measured": "execution seconds per model, from each engine's own timings",
            "estimated": "dollars: seconds × the configured rate per warehouse second; the warehouse's fixed cost shared",
        },
        "dependency_lag": {
            "max_s": 14.5,
            "edges": [
                {
                    "producer": "sqlmesh:intermediate.customer_lifetime",
                    "consumer": "dbt:customer_value",
                    "run_id": "scheduled__2026-12-06T18:00:00+00:00",
                    "producer_ended_at": "2026-12-06T18:00:31+00:00",
                    "consumer_started_at": "2026-12-06T18:00:45.500000+00:00",
                    "lag_s": 14.5,
                }
            ],
        },
        "data_quality": {"passed": 118, "failed": 2, "score_pct": 98.3},
        "sla": {"checks": 12, "met": 11, "compliance_pct": 91.7},
        "deployments": {
            "total": 4,
            "succeeded": 2,
            "failed": 1,
            "rolled_back": 1,
            "interrupted": 0,
            "success_rate_pct": 50.0,
            "recent": recent,
        },
        "failing_checks": [
            {
                "at": (since + timedelta(days=3, hours=6)).isoformat(),
                "engine": "sqlmesh",
                "model": "staging.customer_enhanced",
                "kind": "contract_check",
                "dag_id": "dualengine_production",
                "run_id": "scheduled__2026-12-04T06:00:00+00:00",
                "task_id": "stage_1_sqlmesh.contract__staging__customer_enhanced",
                "message": "column 'email' must not be null: 3 rows are null (<b>not bold</b> & escaped)",
            },
            {
                "at": (since + timedelta(days=3, hours=6, seconds=40)).isoformat(),
                "engine": "dbt",
                "model": "order_summary",
                "kind": "model",
                "dag_id": "dualengine_production",
                "run_id": "scheduled__2026-12-04T06:00:00+00:00",
                "task_id": "stage_3_dbt.dbt.build_stage",
                "message": "1 of 14 tests failed: not_null_order_summary_order_id",
            },
        ],
    }


def _day(since: datetime, day: int) -> str:
    return (since + timedelta(days=day)).date().isoformat()


def test_the_report_renders_offline_without_errors(browser: DevTools, tmp_path: Path) -> None:
    report = write_report(realistic_document(), tmp_path / "report.html")
    url = report.resolve().as_uri()

    browser.open(url)

    assert browser.problems(url) == []
    page = browser.evaluate(CHART_CHECK)
    assert page["title"] == "Dual-engine report · production"
    assert page["sections"] == [
        "cards",
        "cost",
        "trends",
        "quality",
        "dependency-lag",
        "deployments",
        "failing-checks",
        "models",
    ]
    names = sorted(chart["name"] for chart in page["charts"])
    assert names == sorted(["cost-share", "cost", "sla", "quality", "deployments"] + ["trend"] * 5)
    for chart in page["charts"]:
        assert chart["width"] > 10 and chart["height"] > 10 and chart["shown"], chart
    assert browser.evaluate("document.querySelectorAll('.panel.breach').length") == 1
    assert browser.evaluate("document.querySelector('.panel.breach figcaption b').textContent") == (
        "intermediate.customer_lifetime"
    )

    png = browser.screenshot(1400, page["height"], scale=0.5)
    (tmp_path / "report.png").write_bytes(png)
    colours = png_pixels(png)
    assert len(colours) > 200, f"the screenshot has only {len(colours)} colours: is the page blank?"
    assert bytes(SQLMESH_RGB) in colours and bytes(DBT_RGB) in colours


def test_the_report_without_history_renders_its_empty_state(browser: DevTools, tmp_path: Path) -> None:
    document = realistic_document()
    document.update(trend=[], daily=[], models=[], engines={e: {"executions": 0} for e in ("sqlmesh", "dbt")})
    report = write_report(document, tmp_path / "empty.html")
    url = report.resolve().as_uri()

    browser.open(url)

    assert browser.problems(url) == []
    assert browser.evaluate("document.querySelector('#empty-state h2').textContent") == "No run history yet"
    charts = browser.evaluate(CHART_CHECK)["charts"]
    assert [c["name"] for c in charts] == ["deployments"] and charts[0]["width"] > 10


def test_the_browser_check_sees_errors_and_requests(browser: DevTools, tmp_path: Path) -> None:
    """The checks above can fail: a page with a script error and a remote image is caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png">'
        "<script>console.error('broken'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    url = page.resolve().as_uri()

    browser.open(url)

    problems = browser.problems(url)
    assert any(p.startswith("exception:") for p in problems), problems
    assert any(p.startswith("console.error:") for p in problems), problems
    assert "request: http://127.0.0.1:9/x.png" in problems
    assert any(p.startswith("failed request:") for p in problems), problems
