"""The HTML report in a real browser: headless Chromium loads it offline, with no console error
and no request besides the file itself, every chart draws, and the screenshot shows the charts.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ended by NUL on file descriptors 3 and 4), so the test needs no Python package beyond
the standard library. Without /usr/bin/chromium the test is skipped, unless CI is set: then it
fails (scripts/install_chromium.sh installs it).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_dualengine.monitoring.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]
SQLMESH_RGB, DBT_RGB = (0x7C, 0x3A, 0xED), (0xF9, 0x73, 0x16)
TIMEOUT_S = 30


class DevTools:
    """One headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Chromium reads commands from fd 3 and writes replies to fd 4; its ends are moved above
        # both first, so that redirecting one onto 3 or 4 cannot overwrite the other.
        to_browser_r, from_browser_w = _above(to_browser_r, 10), _above(from_browser_w, 10)
        self.process = subprocess.Popen(
            [
                "bash",
                "-c",
                f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}',
                "bash",
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=True)
        except BaseException:
            self.process.kill()
            self.process.wait()
            os.close(self._to_browser)
            raise

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as stream:
            while chunk := stream.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self._messages.put(json.loads(message))
        self._messages.put(None)

    def _receive(self) -> dict[str, Any]:
        message = self._messages.get(timeout=TIMEOUT_S)
        if message is None:
            raise RuntimeError(f"chromium closed its DevTools pipe (exit code {self.process.poll()})")
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = False) -> dict[str, Any]:
        """Send one command and wait for its reply, keeping the events that come meanwhile."""
        self._next_id += 1
        request: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        while True:
            message = self._receive()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._receive())

    def open(self, url: str) -> None:
        """Load `url` in the page, from a clean list of events."""
        self.events.clear()
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in reply:
            raise RuntimeError(f"evaluating the check failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def problems(self, page_url: str) -> list[str]:
        """Console errors, uncaught exceptions, failed requests and requests for anything but the page."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log error: {params['entry'].get('text')} ({params['entry'].get('url')})")
            elif method == "Network.loadingFailed":
                found.append(f"failed request: {params.get('errorText')}")
            elif method == "Network.requestWillBeSent" and params["request"]["url"] != page_url:
                found.append(f"request: {params['request']['url']}")
        return found

    def screenshot(self, width: int, height: int, scale: float) -> bytes:
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
        reply = self.call(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, session=True
        )
        return base64.b64decode(reply["data"])

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, queue.Empty, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)


def _above(fd: int, lowest: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved


@pytest.fixture(scope="module")
def browser() -> Iterator[DevTools]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (bash scripts/install_chromium.sh installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    profile = Path(tempfile.mkdtemp(prefix="dualengine-chromium-"))
    try:
        devtools = DevTools(profile)
        try:
            devtools.call("Emulation.setDeviceMetricsOverride", _viewport(1400, 1000), session=True)
            yield devtools
        finally:
            devtools.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _viewport(width: int, height: int) -> dict[str, Any]:
    return {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}


def png_pixels(png: bytes) -> set[bytes]:
    """The distinct RGB colours of an 8-bit RGB or RGBA PNG (as Chromium writes them)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unexpected PNG format {header!r}"
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous, pos = bytearray(stride), 0
    colours: set[bytes] = set()
    for _ in range(height):
        filter_type, line = raw[pos], bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        for i in range(stride) if filter_type else ():
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            if filter_type == 1:
                line[i] = (line[i] + left) & 255
            elif filter_type == 2:
                line[i] = (line[i] + up) & 255
            elif filter_type == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            else:
                corner = previous[i - bpp] if i >= bpp else 0
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp))
        previous = line
    return colours


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
