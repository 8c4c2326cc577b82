"""The metrics document (docs/monitoring.md): both engines' executions, cost, dependency lag,
data quality, SLAs and deployments over a window, as one JSON-serialisable dict.

`metrics_document` is a pure function of the run history rows (monitoring/history.py),
the deployment records, the cross-engine edges and the monitoring settings, so a test can
check every number by hand. `load_metrics` gathers those for a project: the rows through
the project's warehouse connection, read-only and only while reading (on DuckDB a file a
pipeline task holds raises WarehouseBusy after the usual wait), the edges from the
compiled graph.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow_provider_dualengine.compiled.edges import Edge, node_id
from airflow_provider_dualengine.config.monitoring import ENGINES, MonitoringSpec
from airflow_provider_dualengine.monitoring.cost import CostBreakdown, cost_breakdown, execution_cost, is_execution

BASELINE_MIN_RUNS = 1  # from the first earlier run on; the median of up to BASELINE_RUNS
BASELINE_RUNS = 10
RECENT_DEPLOYMENTS = 20
FAILING_CHECKS = 50
DEPLOYMENTS_READ = 1000  # newest deployment records read; far more than a window holds

MEASURED = (
    "Measured (reported by the engines and recorded per execution in dualengine.run_history): "
    "execution seconds, start and end times, status, rows, bytes where the engine reports them, "
    "tests/audits/contract checks passed and failed, SLA met or missed; deployments from dualengine.deployments."
)


def metrics_document(
    rows: Iterable[Mapping[str, Any]],
    deployments: Iterable[Mapping[str, Any]],
    edges: Iterable[Edge],
    config: MonitoringSpec,
    *,
    since: datetime,
    until: datetime,
    environment: str | None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The document for the rows that started in [since, until) (of `environment`, or all)."""
    # A model that failed before it ran (dbt compile error) has no start of its own: it
    # counts at the time its task recorded it.
    rows = [r if r.get("started_at") is not None else {**r, "started_at": r.get("recorded_at")} for r in rows]
    in_window = sorted(
        (
            r
            for r in rows
            if r.get("started_at") is not None
            and since <= r["started_at"] < until
            and (environment is None or r["environment"] == environment)
        ),
        key=lambda r: (r["started_at"], r["engine"], r["model"]),
    )
    executions = [r for r in in_window if is_execution(r)]
    baselines = _baselines(executions)
    costs = cost_breakdown(in_window, config.cost, config.budgets, window_days(since, until))
    return {
        "generated_at": _iso(generated_at or datetime.now(UTC)),
        "window": {"since": _iso(since), "until": _iso(until), "days": len(window_days(since, until))},
        "environment": environment,
        "currency": config.cost.currency,
        "engines": _engines(executions, costs),
        "models": _models(executions, baselines, config),
        "trend": [
            {
                "at": _iso(r["started_at"]),
                "engine": r["engine"],
                "model": r["model"],
                "execution_s": _seconds(r.get("duration_s")),
                "baseline_s": _seconds(baselines[i]),
                "status": r["status"],
                "dag_id": r["dag_id"],
                "run_id": r["run_id"],
            }
            for i, r in enumerate(executions)
        ],
        "daily": [
            {
                "date": d.day.isoformat(),
                "cost": {**_money_map(d.direct), "shared": _money(d.shared), "total": _money(d.total)},
                "execution_s": {e: _seconds(d.execution_s[e]) for e in ENGINES},
            }
            for d in costs.days
            if d.executions or d.shared
        ],
        "monthly": [
            {
                "month": m.month,
                "cost": {**_money_map(m.direct), "shared": _money(m.shared), "total": _money(m.total)},
                "budget": _money(m.budget),
                "variance": _money(m.variance),
                "variance_pct": _pct(m.variance_pct),
            }
            for m in costs.months
        ],
        "cost": {
            "total": _money(costs.total),
            "by_engine": _money_map(costs.by_engine),
            "shared": _money(costs.shared),
            "percentages": {k: _pct(v) for k, v in costs.percentages.items()},
            "measured": MEASURED,
            "estimated": _estimated(config, costs),
        },
        "dependency_lag": _dependency_lag(executions, edges),
        "data_quality": _data_quality(in_window),
        "sla": _sla(in_window),
        "freshness_lag": _freshness_lag(in_window),
        "deployments": _deployments(deployments, since, until, environment),
        "failing_checks": _failing_checks(in_window),
    }


def window_days(since: datetime, until: datetime) -> list[date]:
    """The UTC dates [since, until) touches (an `until` at midnight leaves that day out)."""
    if until <= since:
        return []
    first, last = since.astimezone(UTC).date(), (until.astimezone(UTC) - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def last_days(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The window of the last `days` UTC calendar days, today included: whole days, so a
    shared resource's daily cost and the budgets apply to each in full."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=max(days, 1) - 1), now


def _baselines(executions: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """Per execution (oldest first): the median seconds of the same model's last
    BASELINE_RUNS successful executions that started before it (None before any)."""
    earlier: dict[tuple[str, str, str], list[float]] = {}  # (environment, engine, model)
    found: list[float | None] = []
    for row in executions:
        done = earlier.setdefault((row["environment"], row["engine"], row["model"]), [])
        found.append(statistics.median(done[-BASELINE_RUNS:]) if len(done) >= BASELINE_MIN_RUNS else None)
        if row["status"] == "success" and row.get("duration_s") is not None:
            done.append(row["duration_s"])
    return found


def _engines(executions: Sequence[Mapping[str, Any]], costs: CostBreakdown) -> dict[str, Any]:
    total_s = sum(r.get("duration_s") or 0.0 for r in executions)
    by_engine, total_cost = costs.by_engine, costs.total
    engines = {}
    for engine in ENGINES:
        mine = [r for r in executions if r["engine"] == engine]
        timed = [r["duration_s"] for r in mine if r.get("duration_s") is not None]
        failed = sum(1 for r in mine if r["status"] == "failed")
        seconds = sum(timed)
        engines[engine] = {
            "executions": len(mine),
            "failed": failed,
            "error_rate_pct": _pct(failed / len(mine) * 100 if mine else None),
            "execution_s": _seconds(seconds),
            "avg_execution_s": _seconds(seconds / len(timed) if timed else None),
            "busy_share_pct": _pct(seconds / total_s * 100 if total_s else None),
            "cost": _money(by_engine[engine]),
            "cost_share_pct": _pct(by_engine[engine] / total_cost * 100 if total_cost else None),
        }
    return engines


def _models(
    executions: Sequence[Mapping[str, Any]], baselines: Sequence[float | None], config: MonitoringSpec
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(executions):
        groups.setdefault((r["engine"], r["model"]), []).append(i)
    models = []
    for (engine, model), members in sorted(groups.items()):
        runs = [executions[i] for i in members]
        last = members[-1]  # executions are oldest first
        timed = [r["duration_s"] for r in runs if r.get("duration_s") is not None]
        row = executions[last]
        models.append(
            {
                "engine": engine,
                "model": model,
                "runs": len(runs),
                "failed": sum(1 for r in runs if r["status"] == "failed"),
                "avg_execution_s": _seconds(sum(timed) / len(timed) if timed else None),
                "baseline_s": _seconds(baselines[last]),
                "last_execution_s": _seconds(row.get("duration_s")),
                "last_status": row["status"],
                "last_run_at": _iso(row["started_at"]),
                "rows_last": row.get("rows"),
                "cost": _money(sum(execution_cost(r, config.cost) or 0.0 for r in runs)),
            }
        )
    return models


def _dependency_lag(executions: Sequence[Mapping[str, Any]], edges: Iterable[Edge]) -> dict[str, Any]:
    """Per cross-engine edge and Airflow run holding both ends: when the consumer started
    after the producer's successful execution ended. Pairs where the consumer started
    first (not waiting on this producer in that run) are left out."""
    # A run is (dag_id, run_id): scheduled run ids repeat across DAGs of one project.
    ended: dict[tuple[str, tuple[str, str]], datetime] = {}  # (node, run) -> latest successful end
    started: dict[tuple[str, tuple[str, str]], datetime] = {}  # (node, run) -> earliest start
    for r in executions:
        node = f"{r['engine']}:{r['model']}"
        key = (node, (r["dag_id"], r["run_id"]))
        started[key] = min(started.get(key, r["started_at"]), r["started_at"])
        if r["status"] == "success" and r.get("ended_at") is not None:
            ended[key] = max(ended.get(key, r["ended_at"]), r["ended_at"])
    found: list[dict[str, Any]] = []
    lags: list[float] = []
    runs = sorted({run for _, run in started})
    for edge in edges:
        if not edge.cross_engine:
            continue
        producer, consumer = node_id(edge.upstream), node_id(edge.downstream)
        for run in runs:
            end, start = ended.get((producer, run)), started.get((consumer, run))
            if end is None or start is None or start < end:
                continue
            lags.append((start - end).total_seconds())
            found.append(
                {
                    "producer": producer,
                    "consumer": consumer,
                    "dag_id": run[0],
                    "run_id": run[1],
                    "producer_ended_at": _iso(end),
                    "consumer_started_at": _iso(start),
                    "lag_s": _seconds((start - end).total_seconds()),
                }
            )
    found.sort(key=lambda e: (e["consumer_started_at"], e["producer"], e["consumer"]))
    return {"max_s": _seconds(max(lags, default=None)), "edges": found}


def _data_quality(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    passed = sum(r.get("tests_passed") or 0 for r in rows)
    failed = sum(r.get("tests_failed") or 0 for r in rows)
    return {
        "passed": passed,
        "failed": failed,
        "score_pct": _pct(passed / (passed + failed) * 100 if passed + failed else None),
    }


def _sla(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    checks = [r for r in rows if r["kind"] == "contract_check" and r.get("sla_met") is not None]
    met = sum(1 for r in checks if r["sla_met"])
    return {"checks": len(checks), "met": met, "compliance_pct": _pct(met / len(checks) * 100 if checks else None)}


def _freshness_lag(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per contracted model, the age of its data at its latest check (producer's last write
    -> the check), and the largest of these."""
    latest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for r in rows:
        if r["kind"] == "contract_check" and r.get("data_age_s") is not None:
            latest[(r["engine"], r["model"])] = r  # rows come oldest first
    models = [
        {
            "engine": e,
            "model": m,
            "age_s": _seconds(r["data_age_s"]),
            "checked_at": _iso(r["ended_at"] or r["started_at"]),
        }
        for (e, m), r in sorted(latest.items())
    ]
    return {"max_s": _seconds(max((r["data_age_s"] for r in latest.values()), default=None)), "models": models}


def _deployments(
    records: Iterable[Mapping[str, Any]], since: datetime, until: datetime, environment: str | None
) -> dict[str, Any]:
    found = sorted(
        (
            d
            for d in records
            if since <= d["started_at"] < until and (environment is None or d["environment"] == environment)
        ),
        key=lambda d: (d["started_at"], d["id"]),
        reverse=True,
    )
    counts = {
        s: sum(1 for d in found if d["status"] == s) for s in ("succeeded", "failed", "rolled_back", "interrupted")
    }
    finished = sum(1 for d in found if d["status"] != "running")
    return {
        "total": len(found),
        **counts,
        "success_rate_pct": _pct(counts["succeeded"] / finished * 100 if finished else None),
        "recent": [
            {
                "id": d["id"],
                "environment": d["environment"],
                "status": d["status"],
                "started_at": _iso(d["started_at"]),
                "finished_at": _iso(d.get("finished_at")),
            }
            for d in found[:RECENT_DEPLOYMENTS]
        ],
    }


def _failing_checks(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Failed contract checks (or missed SLAs), and models whose tests or audits failed."""
    failing = [
        r
        for r in rows
        if (r["kind"] == "contract_check" and (r["status"] == "failed" or r.get("sla_met") is False))
        or (r.get("tests_failed") or 0) > 0
    ]
    failing.sort(key=lambda r: r["started_at"], reverse=True)
    return [
        {
            "at": _iso(r["started_at"]),
            "engine": r["engine"],
            "model": r["model"],
            "kind": r["kind"],
            "dag_id": r["dag_id"],
            "run_id": r["run_id"],
            "task_id": r["task_id"],
            "message": r.get("message"),
        }
        for r in failing[:FAILING_CHECKS]
    ]


def _estimated(config: MonitoringSpec, costs: CostBreakdown) -> str:
    cost = config.cost
    if not cost.configured:
        return "Cost is not configured (no prices in config/monitoring.yml): every cost is 0, nothing is estimated."
    if cost.billing == "bytes_scanned":
        how = f"each execution's bytes / 1e12 * price_per_tb ({cost.price_per_tb:g} {cost.currency})"
    else:
        how = "each execution's seconds / 3600 * price_per_hour of the warehouse size of its engine and environment"
    text = f"Estimated from config/monitoring.yml, not read from a bill: {how}"
    if cost.shared_resources:
        text += "; shared resources at monthly_cost / days in the month per day, allocated to the engines using them"
    if costs.unpriced:
        text += f"; {costs.unpriced} execution(s) could not be priced (no size, price, duration or bytes) and count 0"
    return text + "."


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _money_map(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def load_metrics(
    project_dir: str | os.PathLike[str] | None,
    environment: str | None = None,
    *,
    days: int = 30,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The document of a project's last `days` UTC days, of one environment or (None) all.

    Reads the run history and deployment records through the project's warehouse
    connection in one read-only session closed right after; a DuckDB file a pipeline task
    holds raises WarehouseBusy after the usual wait (the CLI exits 3: retry later)."""
    from airflow_provider_dualengine.config.monitoring import load_monitoring
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph

    project = load_project(project_dir)
    if environment is not None:
        environment = project.environment(environment).name  # an unknown name is a config error
    config = load_monitoring(project)
    edges = build_graph(project).models_graph.cross_engine_edges()
    since, until = last_days(days, now)
    rows, deployments = read_history(project.settings.warehouse.conn_id, since, environment)
    return metrics_document(
        rows, deployments, edges, config, since=since, until=until, environment=environment, generated_at=now
    )


def read_history(
    conn_id: str, since: datetime, environment: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(run history rows, deployment records) from a read-only session; none before any run."""
    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.hooks.warehouse import WarehouseHook
    from airflow_provider_dualengine.monitoring import history

    with WarehouseHook(conn_id).session(autocommit=True, read_only=True) as warehouse:
        rows = history.read(warehouse, since=since, environment=environment)
        deployments = records.read_deployments(warehouse, DEPLOYMENTS_READ)
    return rows, deployments
