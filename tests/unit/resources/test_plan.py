"""The execution plan by hand (resources/plan.py): order across both engines, estimates and
their sources, the critical path, the total, --models selection, cost and allocations, on
a hand-made graph and hand-made history rows.

    stage s1 (sqlmesh): a -> b
    stage s2 (both):    b -> sqlmesh c,  b -> dbt d   (cross-engine)
    stage s3 (dbt):     c -> e (cross-engine), d -> e
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from airflow_provider_dualengine.compiled.edges import Edge
from airflow_provider_dualengine.config.monitoring import CostSettings
from airflow_provider_dualengine.graph import Engine, ModelNode, StageNode, UnifiedGraph
from airflow_provider_dualengine.graph.lineage import LineageNode, ModelGraph
from airflow_provider_dualengine.graph.names import UnknownModel
from airflow_provider_dualengine.resources.allocation import EngineAllocation
from airflow_provider_dualengine.resources.plan import (
    critical_path,
    model_estimate,
    plan_document,
    render_plan,
    run_spans,
    unreadable_reason,
)

S, D = Engine.SQLMESH, Engine.DBT
A, B, C, DD, E = (S, "raw.a"), (S, "staging.b"), (S, "mart.c"), (D, "d"), (D, "e")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ENV = "development"


def graph(s1_listing: Sequence[str] = ("raw.a", "staging.b")) -> UnifiedGraph:
    def nodes(engine: Engine, names: Sequence[str]) -> tuple[ModelNode, ...]:
        return tuple(ModelNode(engine, n) for n in names)

    stages = {
        "s1": StageNode("s1", {S: nodes(S, s1_listing)}, external_inputs=("source_data",)),
        "s2": StageNode("s2", {S: nodes(S, ["mart.c"]), D: nodes(D, ["d"])}, upstream_stages=("s1",)),
        "s3": StageNode("s3", {D: nodes(D, ["e"])}, upstream_stages=("s2",)),
    }
    keys = [A, B, C, DD, E, (D, "unplaced")]
    models = ModelGraph(
        nodes={k: LineageNode(k[0], k[1]) for k in keys},
        edges=[
            Edge(A, B, "sqlmesh"),
            Edge(B, C, "sqlmesh"),
            Edge(B, DD, "source"),
            Edge(C, E, "source"),
            Edge(DD, E, "ref"),
            Edge(E, (D, "unplaced"), "ref"),
        ],
    )
    return UnifiedGraph(stages=stages, models_graph=models)


def allocation(pool: str | None = None, **fields: Any) -> dict[str, EngineAllocation]:
    return {
        engine: EngineAllocation(engine=engine, environment=ENV, pool=pool, slots=4 if pool else None, **fields)
        for engine in ("sqlmesh", "dbt")
    }


def row(key: tuple[Engine, str], seconds: float, run: int, status: str = "success", **fields: Any) -> dict[str, Any]:
    """A run history row as history.read returns it; run `run` starts at T0 + run hours."""
    start = T0 + timedelta(hours=run) + timedelta(seconds=fields.pop("offset", 0.0))
    return {
        "kind": "model",
        "engine": key[0].value,
        "environment": ENV,
        "model": key[1],
        "status": status,
        "dag_id": "shop",
        "run_id": f"run_{run}",
        "task_id": "t",
        "started_at": start,
        "ended_at": start + timedelta(seconds=seconds),
        "duration_s": seconds,
        "bytes": None,
        **fields,
    }


def plan(rows: Sequence[dict[str, Any]] = (), **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("cost", CostSettings())
    kwargs.setdefault("allocation", allocation())
    return plan_document(kwargs.pop("graph", graph()), ENV, rows=list(rows), moment=T0 + timedelta(days=1), **kwargs)


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in document["models"]}


def test_stages_in_dependency_order_and_models_in_dependency_order_inside_each_stage() -> None:
    document = plan(graph=graph(s1_listing=("staging.b", "raw.a")))  # listed after the model reading it
    assert [(s["name"], s["models"], s["after"]) for s in document["stages"]] == [
        ("s1", ["sqlmesh:raw.a", "sqlmesh:staging.b"], ["source_data"]),
        ("s2", ["sqlmesh:mart.c", "dbt:d"], ["s1"]),
        ("s3", ["dbt:e"], ["s2"]),
    ]
    # one step per stage and engine; dbt:unplaced is in no stage, so it does not run
    assert [(s["stage"], s["engine"], [m["id"] for m in s["models"]]) for s in document["steps"]] == [
        ("s1", "sqlmesh", ["sqlmesh:raw.a", "sqlmesh:staging.b"]),
        ("s2", "sqlmesh", ["sqlmesh:mart.c"]),
        ("s2", "dbt", ["dbt:d"]),
        ("s3", "dbt", ["dbt:e"]),
    ]
    assert by_id(document)["dbt:e"]["upstream"] == ["sqlmesh:mart.c", "dbt:d"]


def test_a_model_estimate_needs_three_successful_runs_and_says_where_it_comes_from() -> None:
    assert model_estimate([]).source == "no history (0 recorded runs)"
    one = [row(A, 1.0, 0)]
    assert (model_estimate(one).seconds, model_estimate(one).source) == (None, "no history (1 recorded run)")
    # failed and unmeasured executions are not runs to estimate from
    two = [row(A, 1.0, 0), row(A, 9.0, 1, "failed"), row(A, 2.0, 2), row(A, 5.0, 3, duration_s=None)]
    assert model_estimate(two).source == "no history (2 recorded runs)"
    three = [row(A, 1.0, 0), row(A, 10.0, 1), row(A, 2.0, 2)]
    assert (model_estimate(three).seconds, model_estimate(three).source) == (2.0, "history: median of 3 runs")
    # the median of the last 10: the two oldest (100 s) no longer count
    twelve = [row(A, 100.0, 0), row(A, 100.0, 1)] + [row(A, float(s), s + 2) for s in range(1, 11)]
    estimate = model_estimate(twelve)
    assert (estimate.seconds, estimate.source) == (5.5, "history: median of 10 runs (the last 10 of 12)")


def test_the_critical_path_is_the_longest_chain_by_estimated_seconds_across_engines() -> None:
    order = [A, B, C, DD, E]
    parents = {A: [], B: [A], C: [B], DD: [B], E: [C, DD]}
    assert critical_path(order, parents, {A: 2.0, B: None, C: 5.0, DD: 1.0, E: 1.0}) == [A, B, C, E]
    assert critical_path(order, parents, {A: 2.0, B: None, C: 5.0, DD: 10.0, E: 1.0}) == [A, B, DD, E]
    # no estimates at all: the longest chain of models
    assert len(critical_path(order, parents, {})) == 4
    assert critical_path([], {}, {}) == []


def history(runs: int, spans: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """`runs` complete runs: every model once; the last model ends `spans[i]` s after the first starts."""
    rows = []
    for run in range(runs):
        span = spans[run] if spans else 10.0
        rows += [
            row(A, 1.0, run),
            row(B, 2.0, run, offset=1.0),
            row(C, 4.0, run, offset=3.0),
            row(DD, 1.0, run, offset=3.0),
            row(E, 0.5, run, offset=span - 0.5),
        ]
    return rows


def test_estimates_per_model_and_the_total_from_run_spans() -> None:
    document = plan(history(4, spans=[10.0, 12.0, 30.0, 11.0]))
    models = by_id(document)
    assert (
        models["sqlmesh:mart.c"]["estimate_s"] == 4.0
        and models["sqlmesh:mart.c"]["source"] == "history: median of 4 runs"
    )
    assert models["sqlmesh:mart.c"]["recorded_runs"] == 4
    assert document["total"] == {
        "estimate_s": 11.5,
        "method": "run_span",
        "source": "history: median span (first model start to last model end) of 4 full runs",
    }
    assert document["critical_path"] == {
        "models": ["sqlmesh:raw.a", "sqlmesh:staging.b", "sqlmesh:mart.c", "dbt:e"],
        "estimate_s": 7.5,
        "without_estimate": [],
    }
    assert [m["id"] for m in document["models"] if m["critical"]] == document["critical_path"]["models"]
    assert document["models_sum_s"] == 8.5
    assert document["history"]["runs"] == 4 and document["history"]["readable"] is True


def test_without_three_full_runs_the_total_is_the_critical_path_and_says_so() -> None:
    rows = history(2)
    rows += [row(A, 1.0, 5), row(B, 2.0, 5), row(C, 4.0, 5), row(DD, 1.0, 5), row(E, 0.5, 5, "failed")]
    rows += [row(A, 1.0, 6), row(B, 2.0, 6), row(C, 4.0, 6), row(DD, 1.0, 6)]  # did not reach the last stage
    rows += [row(C, 4.0, 7), row(DD, 1.0, 7), row(E, 0.5, 7)]  # ran nothing of the first stage
    planned = {A, B, C, DD, E}
    assert run_spans(rows, planned, {A, B}, {E}) == [10.0, 10.0]  # runs 5 (a failure), 6 and 7 are not full
    # a run that skipped some models (SQLMesh: a seed after its first load) is still full
    assert run_spans([r for r in history(1) if r["model"] != "raw.a"], planned, {A, B}, {E}) == [9.0]
    document = plan(rows)
    assert {m["source"] for m in document["models"]} == {
        "history: median of 3 runs",
        "history: median of 4 runs",
        "history: median of 5 runs",
    }
    total = document["total"]
    assert total["method"] == "critical_path" and total["estimate_s"] == 7.5  # a + b + c + e
    assert total["source"] == (
        "critical path: sum of its model estimates (2 full recorded runs, 3 needed for run spans;"
        " engine start-up between models not included)"
    )


def test_a_critical_path_through_models_without_history_is_a_lower_bound() -> None:
    rows = [r for r in history(3) if r["model"] != "e"]  # e never ran: no full run either
    document = plan(rows)
    assert by_id(document)["dbt:e"]["source"] == "no history (0 recorded runs)"
    assert document["critical_path"]["without_estimate"] == ["dbt:e"]
    assert document["total"]["method"] == "critical_path" and document["total"]["estimate_s"] == 7.0
    assert document["total"]["source"].endswith("a lower bound: 1 of its models have no history")


def test_no_history_at_all_is_said_not_invented() -> None:
    document = plan([])
    assert {m["source"] for m in document["models"]} == {"no history (0 recorded runs)"}
    assert {m["estimate_s"] for m in document["models"]} == {None}
    assert document["total"] == {
        "estimate_s": None,
        "method": None,
        "source": "no history (0 full recorded runs; no model has 3 runs)",
    }
    assert document["cost"]["amount"] is None and document["cost"]["source"] == "no estimate"
    other = [{**r, "environment": "production"} for r in history(5)]  # another environment's runs do not count
    assert plan(other)["total"]["estimate_s"] is None


def test_an_unreadable_warehouse_is_stated_in_every_estimate() -> None:
    reason = "WarehouseUnreachable: cannot connect to the warehouse of Airflow connection 'w' (duckdb:///x.duckdb)"
    document = plan(history(5), unreadable=reason)
    assert {m["source"] for m in document["models"]} == {f"no history (warehouse unreadable: {reason})"}
    assert document["total"]["source"] == f"no history (warehouse unreadable: {reason})"
    assert document["history"] == {**document["history"], "readable": False, "reason": reason}
    text = render_plan(document)
    assert f"history unreadable: {reason}" in text and "no history (warehouse unreadable: see above)" in text


def test_models_selects_them_and_everything_downstream() -> None:
    document = plan(history(3), models=["staging.b"])
    assert [m["id"] for m in document["models"]] == ["sqlmesh:staging.b", "sqlmesh:mart.c", "dbt:d", "dbt:e"]
    assert document["selection"]["models"] == ["staging.b"] and document["selection"]["count"] == 4
    assert [s["name"] for s in document["stages"]] == ["s1", "s2", "s3"]
    # the spans of the selection in each run that ran all of it: b starts 1 s in, e ends 10 s in
    assert document["total"]["method"] == "run_span" and document["total"]["estimate_s"] == 9.0
    only_c = plan(history(3), models=["sqlmesh:mart.c"])
    assert [m["id"] for m in only_c["models"]] == ["sqlmesh:mart.c", "dbt:e"]
    assert [s["name"] for s in only_c["stages"]] == ["s2", "s3"]
    with pytest.raises(UnknownModel, match="no such model"):
        plan(models=["nope"])


def test_cost_prices_each_estimate_at_its_engines_warehouse_size() -> None:
    cost = CostSettings(
        currency="EUR",
        price_per_hour={"small": 2.0, "large": 8.0},
        warehouse_size={"sqlmesh": {ENV: "small"}},
    )
    document = plan(history(3), cost=cost)
    models = by_id(document)
    assert models["sqlmesh:mart.c"]["cost"] == pytest.approx(4.0 / 3600 * 2.0, abs=1e-6)
    assert models["sqlmesh:mart.c"]["cost_source"] == "2 EUR/h (small)"
    assert (models["dbt:d"]["cost"], models["dbt:d"]["cost_source"]) == (
        None,
        "no price (no warehouse size for dbt in development)",
    )
    assert document["cost"]["priced"] == 3 and document["cost"]["unpriced"] == 2
    assert document["cost"]["amount"] == pytest.approx(7.0 / 3600 * 2.0, abs=1e-6)
    # the size of resources.yml's allocation when monitoring.yml names none
    sized = plan(history(3), cost=cost, allocation=allocation(warehouse_size="large"))
    assert by_id(sized)["dbt:d"]["cost_source"] == "8 EUR/h (large)"
    assert by_id(sized)["sqlmesh:mart.c"]["cost_source"] == "2 EUR/h (small)"  # monitoring.yml's size first
    # nothing priced at all: "no price"
    assert plan(history(3))["cost"] == {
        "currency": "USD",
        "amount": None,
        "priced": 0,
        "unpriced": 5,
        "source": "no price",
    }


def test_bytes_scanned_billing_prices_the_median_bytes() -> None:
    cost = CostSettings(billing="bytes_scanned", price_per_tb=5.0)
    rows = [{**r, "bytes": 2 * 10**12} if r["model"] == "raw.a" else r for r in history(3)]
    models = by_id(plan(rows, cost=cost))
    assert models["sqlmesh:raw.a"]["cost"] == 10.0 and models["sqlmesh:raw.a"]["cost_source"] == "5 USD/TB scanned"
    assert models["sqlmesh:staging.b"]["cost_source"] == "no price (no bytes recorded: billing is bytes_scanned)"


def test_each_step_names_its_pool_and_allocation() -> None:
    engine_pools = plan(
        allocation={
            "sqlmesh": EngineAllocation(
                engine="sqlmesh",
                environment=ENV,
                pool="dualengine_shop_development_sqlmesh",
                slots=3,
                slots_source="30% of 10 warehouse slots",
                concurrent_tasks=2,
                window="peak_hours",
                execution="limited",
            ),
            "dbt": EngineAllocation(engine="dbt", environment=ENV, pool=None, slots=7, threads=4),
        },
        writer_pool=None,
    )
    sqlmesh, dbt = engine_pools["steps"][0]["allocation"], engine_pools["steps"][2]["allocation"]
    assert (
        sqlmesh["pool"],
        sqlmesh["slots"],
        sqlmesh["concurrent_tasks"],
        sqlmesh["window"],
        sqlmesh["execution"],
    ) == (
        "dualengine_shop_development_sqlmesh",
        3,
        2,
        "peak_hours",
        "limited",
    )
    assert (dbt["pool"], dbt["threads"]) == ("default_pool", 4)
    # DuckDB: no engine pool, every writer in the one-writer pool, whose slots are its own
    duck = plan(writer_pool="dualengine_warehouse")["steps"][0]["allocation"]
    assert (duck["pool"], duck["slots"]) == ("dualengine_warehouse", None)
    assert "pool dualengine_shop_development_sqlmesh, 3 slots, 2 concurrent tasks" in render_plan(engine_pools)


def test_the_document_is_json_and_the_table_says_the_same() -> None:
    cost = CostSettings(
        price_per_hour={"small": 2.0}, warehouse_size={"sqlmesh": {ENV: "small"}, "dbt": {ENV: "small"}}
    )
    document = plan(history(3, spans=[10.0, 12.0, 14.0]), cost=cost, project="shop")
    assert json.loads(json.dumps(document)) == document
    text = render_plan(document)
    assert text.startswith("execution plan of shop in development at 2026-12-02 08:00 UTC (history: 3 recorded runs)")
    assert "  *   3  sqlmesh:mart.c" in text and "4.00 s" in text and "history: median of 3 runs" in text
    assert (
        "* critical path (7.50 s of model estimates): sqlmesh:raw.a -> sqlmesh:staging.b -> sqlmesh:mart.c -> dbt:e"
        in text
    )
    assert "total: 12.00 s (history: median span (first model start to last model end) of 3 full runs" in text
    assert f"cost: {8.5 / 3600 * 2.0:.6f} USD (5 models priced;" in text


def test_the_unreadable_reason_is_one_line_without_credentials() -> None:
    error = RuntimeError(
        "could not connect to postgresql://bob:s3cr3t-pw@db:5432/shop, password=hunter2\n    fix: start it"
    )
    reason = unreadable_reason(error)
    assert reason.startswith("RuntimeError: could not connect to postgresql://bob:***@db:5432/shop")
    assert "s3cr3t-pw" not in reason and "hunter2" not in reason and "fix" not in reason
