"""The execution plan of a project's environment (`dualengine plan`, the deploy DAG's
`validation.execution_plan`): what runs in which order across both engines, with which
resources, how long it should take and what it should cost.

- **Order**: the stages in dependency order, and inside each stage its models in
  dependency order (the model graph across both engines; ties keep the stage's listing).
- **Steps**: one per stage and engine (one SQLMesh plan, one `dbt build`), each with its
  engine's allocation at the plan's moment (`resources/allocation.py`: pool, slots,
  threads, concurrent tasks, warehouse size, window).
- **Estimates**, each stating its source: a model's is the median `duration_s` of its last
  RECENT_RUNS successful executions in the environment (`dualengine.run_history`) when it
  has at least MIN_RUNS of them, else "no history (n recorded runs)". The total is measured
  the way a run is: the median span (first model start to last model end) of the last
  RECENT_RUNS full runs (they ran models of the plan's first and last stage, and no planned
  model failed), with at least MIN_RUNS of them; else the sum of model estimates along the
  critical path.
- **Critical path**: the longest chain of the model graph (both engines) by estimated seconds.
- **Cost**: each model's estimated seconds priced by the cost model (`monitoring/cost.py`,
  the price per compute-hour of its engine's warehouse size in the environment); "no price"
  when there is none. Shared resources (a fixed monthly cost) are not part of a run's cost.

`plan_document` is a pure function of the graph, the allocations, the cost settings and the
history rows, so a test can check every number by hand; `load_plan` gathers those for a
project and never fails on an unreadable warehouse (every estimate then says why there is
no history). `render_plan` writes the document as the table the CLI prints and the deploy
DAG's task logs.
"""

from __future__ import annotations

import heapq
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_dualengine.compiled.edges import NodeKey, node_id
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.monitoring import CostSettings
from airflow_provider_dualengine.graph.model import UnifiedGraph
from airflow_provider_dualengine.graph.names import resolve_model
from airflow_provider_dualengine.monitoring.cost import execution_cost
from airflow_provider_dualengine.resources.allocation import EngineAllocation

MIN_RUNS = 3  # successful recorded runs before history is trusted
RECENT_RUNS = 10  # the median is taken over at most the last this many (as metrics' baselines)
HISTORY_DAYS = 30  # how far back history is read
REASON_LIMIT = 800  # characters of an unreadable warehouse's reason (the driver's own words are cut at 500)
SELECTION_RULE = "the models named and every model downstream of them (what a change to them makes run again)"


@dataclass(frozen=True)
class Estimate:
    seconds: float | None
    source: str
    runs: int  # the successful recorded executions the estimate saw


def _runs(n: int, what: str = "recorded run") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def model_estimate(rows: Sequence[Mapping[str, Any]], unreadable: str | None = None) -> Estimate:
    """The estimate of one model from its history rows (oldest first), or why there is none."""
    if unreadable is not None:
        return Estimate(None, f"no history (warehouse unreadable: {unreadable})", 0)
    done = [r["duration_s"] for r in rows if r.get("status") == "success" and r.get("duration_s") is not None]
    if len(done) < MIN_RUNS:
        return Estimate(None, f"no history ({_runs(len(done))})", len(done))
    recent = done[-RECENT_RUNS:]
    source = f"history: median of {len(recent)} runs"
    if len(done) > len(recent):
        source += f" (the last {len(recent)} of {len(done)})"
    return Estimate(float(statistics.median(recent)), source, len(done))


def run_spans(
    rows: Iterable[Mapping[str, Any]], planned: set[NodeKey], first: set[NodeKey], last: set[NodeKey]
) -> list[float]:
    """Seconds from the first planned model's start to the last one's end, per full run,
    oldest first. A run is one dag_id and run_id; full: it executed models of the plan's
    `first` and `last` stage and none of its planned models failed (an engine skips a model
    with nothing to do, a SQLMesh seed after its first load, so "every model" is too much)."""
    runs: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("kind", "model") == "model" and _key(row) in planned:
            runs.setdefault((row["dag_id"], row["run_id"]), []).append(row)
    spans = []
    for members in runs.values():
        ok = [r for r in members if r.get("status") == "success" and r.get("started_at") and r.get("ended_at")]
        ran = {_key(r) for r in ok}
        if not ran & first or not ran & last or any(r.get("status") == "failed" for r in members):
            continue
        start, end = min(r["started_at"] for r in ok), max(r["ended_at"] for r in ok)
        spans.append((start, (end - start).total_seconds()))
    return [span for _, span in sorted(spans, key=lambda s: s[0])]


def history_by_model(rows: Iterable[Mapping[str, Any]], environment: str) -> dict[NodeKey, list[Mapping[str, Any]]]:
    """The environment's model runs (oldest first, as read), per model."""
    by_model: dict[NodeKey, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("kind", "model") == "model" and row.get("environment") == environment:
            by_model.setdefault(_key(row), []).append(row)
    return by_model


def _key(row: Mapping[str, Any]) -> NodeKey:
    return (Engine(row["engine"]), row["model"])


def select_models(graph: UnifiedGraph, names: Sequence[str] | None) -> set[NodeKey]:
    """The models a plan covers: every model placed in a stage, or with `names` the models
    named and everything downstream of them (placed in a stage). Raises UnknownModel."""
    placed = set(graph.placement())
    if not names:
        return placed
    chosen: set[NodeKey] = set()
    for name in names:
        key = resolve_model(graph, name)
        chosen.update([key, *graph.models_graph.downstream_of(key)])
    return chosen & placed


def execution_order(graph: UnifiedGraph, planned: set[NodeKey]) -> list[tuple[str, list[NodeKey]]]:
    """(stage, its planned models in dependency order) for every stage with planned models,
    stages in the graph's (dependency) order."""
    parents = _parents(graph, planned)
    order = []
    for stage in graph.stages.values():
        listed = [(engine, m.name) for engine in stage.engines() for m in stage.models[engine]]
        members = [k for k in listed if k in planned]
        inside = set(members)
        if members:
            within = {m: [p for p in parents[m] if p in inside] for m in members}
            order.append((stage.name, _stable_topological(members, within)))
    return order


def _parents(graph: UnifiedGraph, nodes: set[NodeKey]) -> dict[NodeKey, list[NodeKey]]:
    """Each of `nodes` -> the models among `nodes` it reads (both engines)."""
    parents: dict[NodeKey, list[NodeKey]] = {n: [] for n in nodes}
    for edge in graph.models_graph.edges:
        if edge.upstream in nodes and edge.downstream in nodes and edge.upstream not in parents[edge.downstream]:
            parents[edge.downstream].append(edge.upstream)
    return parents


def _stable_topological(members: list[NodeKey], parents: Mapping[NodeKey, list[NodeKey]]) -> list[NodeKey]:
    """`members` in dependency order; among models free to run, the listing order first
    (Kahn's algorithm with the listing index as priority: thousands of models are fine)."""
    index = {m: i for i, m in enumerate(members)}
    waiting = {m: len(parents[m]) for m in members}
    children: dict[NodeKey, list[NodeKey]] = {}
    for member in members:
        for parent in parents[member]:
            children.setdefault(parent, []).append(member)
    ready = [index[m] for m in members if not waiting[m]]
    heapq.heapify(ready)
    order: list[NodeKey] = []
    while ready:
        node = members[heapq.heappop(ready)]
        order.append(node)
        for child in children.get(node, ()):
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, index[child])
    placed = set(order)  # a cycle (build_graph refuses those): the rest in the listing order
    return order + [m for m in members if m not in placed]


def critical_path(
    order: Sequence[NodeKey], parents: Mapping[NodeKey, Sequence[NodeKey]], seconds: Mapping[NodeKey, float | None]
) -> list[NodeKey]:
    """The chain of the model graph with the most estimated seconds (a model without an
    estimate counts 0; ties: more models, then the earlier chain). `order` is a
    dependency order of the models, `parents` their upstream models among them."""
    best: dict[NodeKey, tuple[float, int]] = {}
    previous: dict[NodeKey, NodeKey | None] = {}
    for node in order:
        before = [p for p in parents.get(node, ()) if p in best]
        top = max(before, key=lambda p: best[p], default=None)
        weight, length = best[top] if top is not None else (0.0, 0)
        best[node] = (weight + (seconds.get(node) or 0.0), length + 1)
        previous[node] = top
    if not best:
        return []
    end: NodeKey | None = max(order, key=lambda n: best[n])
    path = []
    while end is not None:
        path.append(end)
        end = previous[end]
    return path[::-1]


def model_cost(
    engine: str, environment: str, estimate: Estimate, size_bytes: float | None, cost: CostSettings, size: str | None
) -> tuple[float | None, str]:
    """(amount, source) of one model's estimated execution, by the cost model."""
    if estimate.seconds is None:
        return None, "no estimate"
    if cost.billing == "bytes_scanned":
        if cost.price_per_tb is None:
            return None, "no price (no price_per_tb)"
        if size_bytes is None:
            return None, "no price (no bytes recorded: billing is bytes_scanned)"
        amount = execution_cost({"engine": engine, "environment": environment, "bytes": size_bytes}, cost)
        return amount, f"{cost.price_per_tb:g} {cost.currency}/TB scanned"
    if size is None:
        return None, f"no price (no warehouse size for {engine} in {environment})"
    if size not in cost.price_per_hour:
        return None, f"no price (warehouse size '{size}' has no price_per_hour)"
    if cost.size(engine, environment) != size:  # the size comes from resources.yml
        cost = cost.model_copy(update={"warehouse_size": {**cost.warehouse_size, engine: {environment: size}}})
    row = {"engine": engine, "environment": environment, "duration_s": estimate.seconds}
    return execution_cost(row, cost), f"{cost.price_per_hour[size]:g} {cost.currency}/h ({size})"


def plan_document(
    graph: UnifiedGraph,
    environment: str,
    allocation: Mapping[str, EngineAllocation],
    cost: CostSettings,
    rows: Sequence[Mapping[str, Any]],
    *,
    project: str = "",
    models: Sequence[str] | None = None,
    unreadable: str | None = None,
    writer_pool: str | None = None,
    moment: datetime | None = None,
    since: datetime | None = None,
) -> dict[str, Any]:
    """The plan as one JSON-serialisable dict (docs/plan.md). `rows`: run history rows
    (monitoring/history.py `read`, oldest first); `unreadable`: why they could not be read.
    Raises UnknownModel for a name in `models` that means no model or several."""
    moment = moment or datetime.now(UTC)
    planned = select_models(graph, models)
    stages = execution_order(graph, planned)
    flat = [key for _, keys in stages for key in keys]
    parents = _parents(graph, set(flat))
    mine = [r for r in rows if r.get("kind", "model") == "model" and r.get("environment") == environment]
    by_model = history_by_model(mine, environment)
    estimates = {k: model_estimate(by_model.get(k, []), unreadable) for k in flat}
    path = critical_path(flat, parents, {k: e.seconds for k, e in estimates.items()})
    on_path = set(path)
    stage_upstream = {s.name: [*s.upstream_stages, *s.external_inputs] for s in graph.stages.values()}

    documents: dict[NodeKey, dict[str, Any]] = {}
    costs: list[float | None] = []
    for stage, keys in stages:
        for key in keys:
            engine, estimate = key[0].value, estimates[key]
            amount, cost_source = model_cost(
                engine,
                environment,
                estimate,
                _median_bytes(by_model.get(key, [])),
                cost,
                _size(cost, allocation, engine, environment),
            )
            costs.append(amount)
            documents[key] = {
                "id": node_id(key),
                "engine": engine,
                "model": key[1],
                "stage": stage,
                "upstream": [node_id(p) for p in parents[key]],
                "estimate_s": _seconds(estimate.seconds),
                "source": estimate.source,
                "recorded_runs": estimate.runs,
                "cost": _money(amount),
                "cost_source": cost_source,
                "critical": key in on_path,
            }
    steps = []
    for stage, keys in stages:
        for engine in Engine:
            members = [k for k in keys if k[0] is engine]
            if members:
                steps.append(
                    {
                        "stage": stage,
                        "after": stage_upstream.get(stage, []),
                        "engine": engine.value,
                        "models": [documents[k] for k in members],
                        "allocation": _allocation(allocation.get(engine.value), writer_pool),
                    }
                )
    known = [e.seconds for e in estimates.values() if e.seconds is not None]
    priced = [c for c in costs if c is not None]
    return {
        "project": project,
        "environment": environment,
        "at": _iso(moment),
        "history": {
            "readable": unreadable is None,
            "reason": unreadable,
            "since": _iso(since),
            "runs": len({(r["dag_id"], r["run_id"]) for r in mine}),
            "min_runs": MIN_RUNS,
        },
        "selection": {
            "models": list(models) if models else None,
            "rule": SELECTION_RULE if models else "every model placed in a stage",
            "count": len(flat),
        },
        "stages": [
            {"name": stage, "after": stage_upstream.get(stage, []), "models": [node_id(k) for k in keys]}
            for stage, keys in stages
        ],
        "steps": steps,
        "models": [documents[k] for k in flat],
        "critical_path": _critical_document(path, estimates),
        "total": _total(mine, stages, path, estimates, unreadable),
        "models_sum_s": _seconds(sum(known)) if known else None,
        "cost": {
            "currency": cost.currency,
            "amount": _money(sum(priced)) if priced else None,
            "priced": len(priced),
            "unpriced": len(costs) - len(priced),
            "source": (
                "the cost model (monitoring/cost.py) on each model's estimate; shared resources (a fixed monthly cost) not included"
                if priced
                else "no price"
                if known
                else "no estimate"
            ),
        },
    }


def _critical_document(path: list[NodeKey], estimates: Mapping[NodeKey, Estimate]) -> dict[str, Any]:
    missing = [node_id(k) for k in path if estimates[k].seconds is None]
    known = [estimates[k].seconds or 0.0 for k in path if estimates[k].seconds is not None]
    return {
        "models": [node_id(k) for k in path],
        "estimate_s": _seconds(sum(known)) if known else None,
        "without_estimate": missing,
    }


def _total(
    rows: Sequence[Mapping[str, Any]],
    stages: Sequence[tuple[str, list[NodeKey]]],
    path: list[NodeKey],
    estimates: Mapping[NodeKey, Estimate],
    unreadable: str | None,
) -> dict[str, Any]:
    """A run's estimate: measured run spans when there are enough, else the critical path."""
    if unreadable is not None:
        return {"estimate_s": None, "method": None, "source": f"no history (warehouse unreadable: {unreadable})"}
    if not stages:
        return {"estimate_s": None, "method": None, "source": "nothing to run"}
    planned = {k for _, keys in stages for k in keys}
    spans = run_spans(rows, planned, set(stages[0][1]), set(stages[-1][1]))
    if len(spans) >= MIN_RUNS:
        recent = spans[-RECENT_RUNS:]
        return {
            "estimate_s": _seconds(statistics.median(recent)),
            "method": "run_span",
            "source": f"history: median span (first model start to last model end) of {len(recent)} full runs",
        }
    complete = _runs(len(spans), "full recorded run")
    known = [estimates[k].seconds for k in path if estimates[k].seconds is not None]
    if not known:
        return {"estimate_s": None, "method": None, "source": f"no history ({complete}; no model has {MIN_RUNS} runs)"}
    source = f"critical path: sum of its model estimates ({complete}, {MIN_RUNS} needed for run spans; engine start-up between models not included)"
    missing = sum(1 for k in path if estimates[k].seconds is None)
    if missing:
        source += f"; a lower bound: {missing} of its models have no history"
    return {"estimate_s": _seconds(sum(s for s in known if s is not None)), "method": "critical_path", "source": source}


def _allocation(alloc: EngineAllocation | None, writer_pool: str | None) -> dict[str, Any]:
    if alloc is None:
        return {"pool": writer_pool or "default_pool", "pool_source": "no allocation"}
    slots, slots_source = alloc.slots, alloc.slots_source
    if alloc.pool:
        pool, source = alloc.pool, "the engine's pool in this environment"
    elif writer_pool:
        pool, source = writer_pool, "the warehouse's writer pool"
        slots, slots_source = None, "the writer pool's own (one writer at a time on a DuckDB file)"
    else:
        pool, source = "default_pool", "Airflow's default pool (no engine pool)"
    return {
        "pool": pool,
        "pool_source": source,
        "slots": slots,
        "slots_source": slots_source,
        "threads": alloc.threads,
        "concurrent_tasks": alloc.concurrent_tasks,
        "warehouse_size": alloc.warehouse_size,
        "priority_boost": alloc.priority_boost,
        "execution": alloc.execution,
        "window": alloc.window,
        "session": dict(alloc.session),
    }


def _size(cost: CostSettings, allocation: Mapping[str, EngineAllocation], engine: str, environment: str) -> str | None:
    """The engine's warehouse size in the environment: the cost model's (config/monitoring.yml),
    else the allocation's (config/resources.yml)."""
    alloc = allocation.get(engine)
    return cost.size(engine, environment) or (alloc.warehouse_size if alloc is not None else None)


def _median_bytes(rows: Sequence[Mapping[str, Any]]) -> float | None:
    done = [r["bytes"] for r in rows if r.get("status") == "success" and r.get("bytes") is not None]
    return float(statistics.median(done[-RECENT_RUNS:])) if len(done) >= MIN_RUNS else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def unreadable_reason(exc: BaseException) -> str:
    """One line saying why the history could not be read, without secrets."""
    from airflow_provider_dualengine.engines.redact import redact

    first = (str(exc).strip().splitlines() or [""])[0]
    return redact(f"{type(exc).__name__}: {first}" if first else type(exc).__name__)[:REASON_LIMIT]


def load_plan(
    project_dir: str | os.PathLike[str] | None,
    environment: str | None = None,
    *,
    models: Sequence[str] | None = None,
    days: int = HISTORY_DAYS,
    moment: datetime | None = None,
) -> dict[str, Any]:
    """The plan of a project's environment (None: its default) at `moment` (now).

    The history of the last `days` days is read the way `dualengine metrics` reads it
    (monitoring/metrics.py `read_history`: the project's warehouse connection, read-only,
    closed right after); a warehouse that cannot be read (missing, unreachable, busy past
    the wait) makes every estimate say so, it is not an error. Raises
    DualEngineConfigError for a broken project and UnknownModel for a bad `models` name."""
    from airflow_provider_dualengine.config.monitoring import load_monitoring
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph
    from airflow_provider_dualengine.monitoring.metrics import read_history
    from airflow_provider_dualengine.resources.allocation import allocations

    project = load_project(project_dir)
    env = project.environment(environment)
    graph = build_graph(project)
    cost = load_monitoring(project).cost
    moment = moment or datetime.now(UTC)
    allocation = allocations(project, env.name, moment)
    since = moment - timedelta(days=days)
    rows: list[dict[str, Any]] = []
    unreadable = None
    try:
        rows, _ = read_history(project.settings.warehouse.conn_id, since, env.name)
    except Exception as exc:  # noqa: BLE001 - an unreadable history is reported in the plan, never raised
        unreadable = unreadable_reason(exc)
    return plan_document(
        graph,
        env.name,
        allocation,
        cost,
        rows,
        project=project.settings.name,
        models=models,
        unreadable=unreadable,
        writer_pool=project.settings.warehouse.writer_pool,
        moment=moment,
        since=since,
    )


def render_plan(document: Mapping[str, Any]) -> str:
    """The plan as the table `dualengine plan` prints and the deploy DAG's task logs."""
    history, total, path, money = document["history"], document["total"], document["critical_path"], document["cost"]
    currency = money["currency"]
    since = f" since {history['since'][:10]}" if history["since"] else ""
    read = (
        f"history{since}: {_runs(history['runs'], 'recorded run')}"
        if history["readable"]
        else f"history unreadable: {history['reason']}"
    )
    selection = document["selection"]
    lines = [
        f"execution plan of {document['project']} in {document['environment']} at {document['at'][:16].replace('T', ' ')} UTC ({read})",
    ]
    if selection["models"]:
        lines.append(
            f"models: {', '.join(selection['models'])} and everything downstream ({selection['count']} models)"
        )
    width = max([len(m["id"]) for m in document["models"]] + [10])
    lines.append(f"  {'':2}{'#':>3}  {'model':<{width}}  {'estimate':>9}  {'cost':>14}  source")
    number = 0
    for stage in document["stages"]:
        after = ", ".join(stage["after"]) or "-"
        lines.append(f"{stage['name']} (after {after})")
        for step in (s for s in document["steps"] if s["stage"] == stage["name"]):
            lines.append(f"  {step['engine']}: {_describe_allocation(step['allocation'])}")
            for m in step["models"]:
                number += 1
                mark = "*" if m["critical"] else " "
                price = f"{m['cost']:.6f} {currency}" if m["cost"] is not None else m["cost_source"].split(" (")[0]
                source = m["source"] if history["readable"] else "no history (warehouse unreadable: see above)"
                lines.append(
                    f"  {mark:2}{number:>3}  {m['id']:<{width}}  {_s(m['estimate_s']):>9}  {price:>14}  {source}"
                )
    chain = " -> ".join(path["models"]) or "-"
    if path["estimate_s"] is None:
        lines.append(f"* critical path (no estimates: the longest chain of models): {chain}")
    else:
        missing = len(path["without_estimate"])
        lines.append(
            f"* critical path ({_s(path['estimate_s'])} of model estimates"
            + (f"; {missing} of its models without one" if missing else "")
            + f"): {chain}"
        )
    if history["readable"]:
        lines.append(f"total: {_s(total['estimate_s'])} ({total['source']})")
    else:
        lines.append("total: - (no history: warehouse unreadable, see above)")
    if document["models_sum_s"] is not None:
        lines.append(f"sum of model estimates: {_s(document['models_sum_s'])} (the engines' own execution time)")
    if money["amount"] is not None:
        unpriced = f"; {money['unpriced']} models without a price or estimate" if money["unpriced"] else ""
        lines.append(
            f"cost: {money['amount']:.6f} {currency} ({money['priced']} models priced{unpriced}; {money['source']})"
        )
    else:
        lines.append(f"cost: {money['source']}")
    return "\n".join(lines)


def _describe_allocation(a: Mapping[str, Any]) -> str:
    parts = [f"pool {a['pool']}" + (" (writer pool)" if a["pool_source"] == "the warehouse's writer pool" else "")]
    if a.get("slots") is not None:
        parts.append(f"{a['slots']} slots")
    if a.get("threads") is not None:
        parts.append(f"{a['threads']} threads")
    if a.get("concurrent_tasks") is not None:
        parts.append(f"{a['concurrent_tasks']} concurrent tasks")
    if a.get("warehouse_size"):
        parts.append(f"size {a['warehouse_size']}")
    if a.get("window"):
        parts.append(f"window {a['window']} ({a['execution']})")
    if a.get("priority_boost"):
        parts.append(f"priority +{a['priority_boost']}")
    return ", ".join(parts)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"
