"""`dualengine metrics` and `dualengine report`: the metrics document of a project's last
days (monitoring/metrics.py), as a summary, as JSON, or as a report file.

Both only read: the warehouse is opened read-only and closed as soon as the history is
read; on DuckDB a file a running pipeline task holds makes them wait, then exit 3
(WarehouseBusy, handled by cli/main.py): retry later."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_DAYS = 30
SLOWEST = 5


def metrics(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.monitoring.metrics import load_metrics

    document = load_metrics(args.project_dir, args.environment, days=args.days)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(summary(document))
    return 0


def report(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.monitoring.metrics import load_metrics
    from airflow_provider_dualengine.monitoring.report import write_report

    document = load_metrics(args.project_dir, args.environment, days=args.days)
    print(f"wrote {write_report(document, Path(args.output))}")
    return 0


def summary(document: dict[str, Any]) -> str:
    """The document as a few lines for the terminal."""
    window, currency = document["window"], document["currency"]
    scope = f"environment {document['environment']}" if document["environment"] else "all environments"
    lines = [
        f"{scope}, {window['since'][:16]} to {window['until'][:16]} UTC ({window['days']} days); costs in {currency}",
        f"  {'engine':<8} {'executions':>10} {'failed':>7} {'errors':>7} {'time s':>10} {'busy':>7} {'cost':>12} {'share':>7}",
    ]
    for engine, e in document["engines"].items():
        lines.append(
            f"  {engine:<8} {e['executions']:>10} {e['failed']:>7} {_pct(e['error_rate_pct']):>7} {e['execution_s']:>10.1f} {_pct(e['busy_share_pct']):>7} {e['cost']:>12.4f} {_pct(e['cost_share_pct']):>7}"
        )
    cost = document["cost"]
    shares = ", ".join(f"{k} {_pct(v)}" for k, v in cost["percentages"].items())
    lines.append(f"cost: {cost['total']:.4f} {currency} ({shares}); shared resources {cost['shared']:.4f}")
    lines.append(f"  {cost['estimated']}")
    for month in document["monthly"]:
        if month["budget"] is not None:
            lines.append(
                f"  {month['month']}: {month['cost']['total']:.4f} of a budget of {month['budget']:.4f} ({_signed(month['variance_pct'])})"
            )
    slow = slowest(document["models"])
    header = "slowest vs baseline (last run / median of earlier successful runs)"
    lines.append(f"{header}:" if slow else f"{header}: no runs yet")
    for m in slow:
        ratio = f"x{m['last_execution_s'] / m['baseline_s']:.2f}" if m["baseline_s"] else "no baseline"
        lines.append(
            f"  {m['engine']}:{m['model']}  last {m['last_execution_s']} s, baseline {m['baseline_s'] if m['baseline_s'] is not None else '-'} s ({ratio})"
        )
    d = document["deployments"]
    lines.append(
        f"deployments: {d['total']} ({d['succeeded']} succeeded, {d['failed']} failed, {d['rolled_back']} rolled back, {d['interrupted']} interrupted); success rate {_pct(d['success_rate_pct'])}"
    )
    q, s = document["data_quality"], document["sla"]
    lines.append(f"data quality: {q['passed']} checks passed, {q['failed']} failed: {_pct(q['score_pct'])}")
    lines.append(f"SLA compliance: {s['met']} of {s['checks']} freshness checks met: {_pct(s['compliance_pct'])}")
    fresh = document.get("freshness_lag") or {}
    if fresh.get("max_s") is not None:
        oldest = max(fresh["models"], key=lambda m: m["age_s"] or 0)
        lines.append(f"data freshness lag: max {fresh['max_s']:.1f} s ({oldest['engine']}:{oldest['model']})")
    lag = document["dependency_lag"]
    if lag["max_s"] is None:
        lines.append("cross-engine dependency lag: none measured")
    else:
        worst = max(lag["edges"], key=lambda e: e["lag_s"])
        lines.append(
            f"cross-engine dependency lag: max {lag['max_s']} s ({worst['producer']} -> {worst['consumer']}, run {worst['run_id']})"
        )
    failing = document["failing_checks"]
    if failing:
        latest = failing[0]
        lines.append(
            f"failing checks: {len(failing)}; latest {latest['at']} {latest['kind']} {latest['engine']}:{latest['model']}: {latest['message'] or '-'}"
        )
    return "\n".join(lines)


def slowest(models: list[dict[str, Any]], count: int = SLOWEST) -> list[dict[str, Any]]:
    """Models whose last run took longest against their baseline; without baselines, longest last run."""
    timed = [m for m in models if m["last_execution_s"] is not None]
    with_baseline = [m for m in timed if m["baseline_s"]]
    if with_baseline:
        return sorted(with_baseline, key=lambda m: m["last_execution_s"] / m["baseline_s"], reverse=True)[:count]
    return sorted(timed, key=lambda m: m["last_execution_s"], reverse=True)[:count]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def days_argument(text: str) -> int:
    """argparse type of `--days`: a whole number of days, 1 or more."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of days (1 or more)")
    return days


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project_dir", nargs="?", default=".")
    parser.add_argument("--environment", "-e", help="one environment (default: all of them)")
    parser.add_argument(
        "--days",
        type=days_argument,
        default=DEFAULT_DAYS,
        help=f"the last N UTC days, today included (default {DEFAULT_DAYS})",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    found = sub.add_parser("metrics", help="executions, cost, dependency lag, data quality and SLAs of both engines")
    _window_options(found)
    found.add_argument("--json", action="store_true", help="the whole metrics document as JSON")
    found.set_defaults(func=metrics)

    written = sub.add_parser("report", help="write the metrics of both engines as a report file")
    _window_options(written)
    written.add_argument("--output", "-o", required=True, help="the file to write")
    written.set_defaults(func=report)
