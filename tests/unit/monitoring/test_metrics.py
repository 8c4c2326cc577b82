"""The metrics document, number by number, from history written to a real DuckDB file
(history.record) and read back (history.read); and `dualengine metrics` over the example
project's warehouse connection, read-only."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_dualengine.cli import monitoring as cli
from airflow_provider_dualengine.compiled.edges import Edge
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.monitoring import Budgets, CostSettings, MonitoringSpec, SharedResource
from airflow_provider_dualengine.deployments import records
from airflow_provider_dualengine.hooks.warehouse import Warehouse, WarehouseBusy
from airflow_provider_dualengine.monitoring import history
from airflow_provider_dualengine.monitoring.history import RunRecord
from airflow_provider_dualengine.monitoring.metrics import (
    last_days,
    load_metrics,
    metrics_document,
    read_history,
    window_days,
)


def T(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:  # noqa: N802 - reads like a time
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


def run(
    engine: str, model: str, start: datetime, seconds: float | None, status: str = "success", **fields: Any
) -> RunRecord:
    day = start.day
    return RunRecord(
        kind=fields.pop("kind", "model"),
        engine=engine,
        environment=fields.pop("environment", "development"),
        model=model,
        status=status,
        dag_id="shop",
        run_id=f"scheduled__2026-12-{day:02d}",
        task_id=fields.pop("task_id", f"{engine}.{model}"),
        started_at=start,
        ended_at=start + timedelta(seconds=seconds) if seconds is not None else None,
        duration_s=seconds,
        **fields,
    )


ORDERS, LIFETIME, VALUE = "staging.stg_orders", "intermediate.customer_lifetime", "customer_value"
HISTORY = [
    run("sqlmesh", ORDERS, datetime(2026, 11, 30, 6, tzinfo=UTC), 100),  # before the window
    run("sqlmesh", ORDERS, T(4, 6), 360, tests_passed=2, task_id="stage_1"),
    run("sqlmesh", ORDERS, T(5, 6), 720, tests_passed=2, task_id="stage_1"),
    run("sqlmesh", ORDERS, T(6, 6), 1080, tests_passed=2, task_id="stage_1"),
    run("sqlmesh", LIFETIME, T(6, 7), 1800, task_id="stage_2"),  # ends 07:30:00
    run("dbt", VALUE, T(6, 7, 30, 12), 720, tests_passed=3, rows=33),  # 12 s later
    run("sqlmesh", LIFETIME, T(6, 7, 31), 0.5, kind="contract_check", sla_met=True, tests_passed=1, task_id="check"),
    run("sqlmesh", ORDERS, T(7, 6), 3600, tests_passed=2, rows=1000, task_id="stage_1"),
    run("sqlmesh", LIFETIME, T(7, 7), 1800, task_id="stage_2"),
    run("dbt", VALUE, T(7, 7, 30, 30), 360, "failed", tests_failed=1, message="not_null_customer_value_id: 1 failure"),
    run(
        "sqlmesh",
        LIFETIME,
        T(7, 7, 31),
        0.5,
        "failed",
        kind="contract_check",
        sla_met=False,
        tests_failed=1,
        message="freshness SLA missed",
        task_id="check",
    ),
    run("dbt", "customer_order_summary", T(7, 7, 40), None, "skipped", task_id="dbt_other"),
    run("sqlmesh", ORDERS, T(7, 6), 3600, environment="production", task_id="prod_stage_1"),
]
EDGES = [
    Edge((Engine.SQLMESH, LIFETIME), (Engine.DBT, VALUE), "ref"),
    Edge((Engine.SQLMESH, ORDERS), (Engine.SQLMESH, LIFETIME), "sqlmesh"),  # same engine: no lag
    Edge((Engine.DBT, VALUE), (Engine.SQLMESH, "reporting.value_band_summary"), "table"),  # never ran
]
CONFIG = MonitoringSpec(
    cost=CostSettings(
        price_per_hour={"x-small": 1.0, "small": 2.0, "large": 8.0},
        warehouse_size={"sqlmesh": {"development": "small", "production": "large"}, "dbt": {"development": "x-small"}},
        shared_resources={"staging_warehouse": SharedResource(used_by=["sqlmesh", "dbt"], monthly_cost=31.0)},
    ),
    budgets=Budgets(monthly=310.0),
)
DEPLOYMENTS = [
    {"id": "d1", "environment": "development", "status": "succeeded", "started_at": T(2, 9), "finished_at": T(2, 10)},
    {"id": "d2", "environment": "development", "status": "rolled_back", "started_at": T(3, 9), "finished_at": T(3, 10)},
    {"id": "d3", "environment": "development", "status": "succeeded", "started_at": T(5, 9), "finished_at": T(5, 10)},
    {"id": "d4", "environment": "production", "status": "failed", "started_at": T(5, 9), "finished_at": T(5, 9, 5)},
    {
        "id": "d0",
        "environment": "development",
        "status": "failed",
        "started_at": datetime(2026, 11, 1, tzinfo=UTC),
        "finished_at": None,
    },
]
SINCE, UNTIL = T(1, 0), T(8, 0)


@pytest.fixture
def rows(tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """HISTORY written to a DuckDB file and read back from a new connection."""
    path = str(tmp_path / "shop.duckdb")
    db = duckdb.connect(path)
    history.record(Warehouse(db.cursor(), "duckdb"), HISTORY)
    db.close()
    db = duckdb.connect(path, read_only=True)
    yield history.read(Warehouse(db.cursor(), "duckdb"), since=SINCE)
    db.close()


def document(rows: list[dict[str, Any]], environment: str | None = "development", config=CONFIG) -> dict[str, Any]:
    return metrics_document(
        rows, DEPLOYMENTS, EDGES, config, since=SINCE, until=UNTIL, environment=environment, generated_at=T(8, 1)
    )


def test_window_and_engines(rows: list[dict[str, Any]]) -> None:
    doc = document(rows)
    assert len(rows) == 12  # the row before `since` was not read
    assert doc["generated_at"] == "2026-12-08T01:00:00+00:00"
    assert doc["window"] == {"since": "2026-12-01T00:00:00+00:00", "until": "2026-12-08T00:00:00+00:00", "days": 7}
    assert (doc["environment"], doc["currency"]) == ("development", "USD")
    # sqlmesh: 4 stg_orders + 2 customer_lifetime = 9360 s; dbt: 720 + 360 s; the skipped model did not run
    # cost by engine: own executions (5.2 and 0.3) plus the shared 7.0 allocated per day (below)
    assert doc["engines"] == {
        "sqlmesh": {
            "executions": 6,
            "failed": 0,
            "error_rate_pct": 0.0,
            "execution_s": 9360.0,
            "avg_execution_s": 1560.0,
            "busy_share_pct": 89.7,
            "cost": 10.4375,
            "cost_share_pct": 83.5,
        },
        "dbt": {
            "executions": 2,
            "failed": 1,
            "error_rate_pct": 50.0,
            "execution_s": 1080.0,
            "avg_execution_s": 540.0,
            "busy_share_pct": 10.3,
            "cost": 2.0625,
            "cost_share_pct": 16.5,
        },
    }


def test_cost_daily_and_monthly(rows: list[dict[str, Any]]) -> None:
    doc = document(rows)
    # shared 31.0 in December = 1.0 a day for 7 days: Dec 1-3 nobody ran (0.5 each way),
    # Dec 4-5 only SQLMesh (1.0), Dec 6 2880 s : 720 s (0.8 : 0.2), Dec 7 5400 s : 360 s (0.9375 : 0.0625)
    assert doc["cost"]["total"] == 12.5
    assert doc["cost"]["by_engine"] == {"sqlmesh": 5.2 + 5.2375, "dbt": 0.3 + 1.7625}
    assert doc["cost"]["shared"] == 7.0
    assert doc["cost"]["percentages"] == {"sqlmesh": 41.6, "dbt": 2.4, "shared": 56.0}
    assert "measured" in doc["cost"]["measured"].lower() and "execution seconds" in doc["cost"]["measured"]
    assert "price_per_hour" in doc["cost"]["estimated"] and "shared resources" in doc["cost"]["estimated"]
    assert [d["date"] for d in doc["daily"]] == [f"2026-12-0{d}" for d in range(1, 8)]
    assert doc["daily"][0] == {
        "date": "2026-12-01",
        "cost": {"sqlmesh": 0.0, "dbt": 0.0, "shared": 1.0, "total": 1.0},
        "execution_s": {"sqlmesh": 0.0, "dbt": 0.0},
    }
    assert doc["daily"][6] == {
        "date": "2026-12-07",
        "cost": {"sqlmesh": 3.0, "dbt": 0.1, "shared": 1.0, "total": 4.1},
        "execution_s": {"sqlmesh": 5400.0, "dbt": 360.0},
    }
    # a budget of 310 a month, prorated to the 7 of December's 31 days: 70.0
    assert doc["monthly"] == [
        {
            "month": "2026-12",
            "cost": {"sqlmesh": 5.2, "dbt": 0.3, "shared": 7.0, "total": 12.5},
            "budget": 70.0,
            "variance": -57.5,
            "variance_pct": -82.1,
        }
    ]


def test_models_and_trend(rows: list[dict[str, Any]]) -> None:
    doc = document(rows)
    assert doc["models"] == [
        {
            "engine": "dbt",
            "model": VALUE,
            "runs": 2,
            "failed": 1,
            "avg_execution_s": 540.0,
            "baseline_s": 720.0,  # the one run before the last
            "last_execution_s": 360.0,
            "last_status": "failed",
            "last_run_at": "2026-12-07T07:30:30+00:00",
            "rows_last": None,
            "cost": 0.3,
        },
        {
            "engine": "sqlmesh",
            "model": LIFETIME,
            "runs": 2,
            "failed": 0,
            "avg_execution_s": 1800.0,
            "baseline_s": 1800.0,
            "last_execution_s": 1800.0,
            "last_status": "success",
            "last_run_at": "2026-12-07T07:00:00+00:00",
            "rows_last": None,
            "cost": 2.0,
        },
        {
            "engine": "sqlmesh",
            "model": ORDERS,
            "runs": 4,
            "failed": 0,
            "avg_execution_s": 1440.0,
            "baseline_s": 720.0,  # median of 360, 720, 1080: the three runs before the last
            "last_execution_s": 3600.0,
            "last_status": "success",
            "last_run_at": "2026-12-07T06:00:00+00:00",
            "rows_last": 1000,
            "cost": 3.2,
        },
    ]
    trend = doc["trend"]
    assert [(t["model"], t["execution_s"], t["baseline_s"]) for t in trend] == [
        (ORDERS, 360.0, None),  # no earlier run: no baseline
        (ORDERS, 720.0, 360.0),
        (ORDERS, 1080.0, 540.0),
        (LIFETIME, 1800.0, None),
        (VALUE, 720.0, None),
        (ORDERS, 3600.0, 720.0),
        (LIFETIME, 1800.0, 1800.0),
        (VALUE, 360.0, 720.0),
    ]
    assert all(isinstance(t.pop("run_id"), str) and t.pop("dag_id") == "shop" for t in trend)
    assert trend[0] == {
        "at": "2026-12-04T06:00:00+00:00",
        "engine": "sqlmesh",
        "model": ORDERS,
        "execution_s": 360.0,
        "baseline_s": None,
        "status": "success",
    }
    assert trend[-1]["status"] == "failed"


def test_lag_quality_sla_deployments_and_failing_checks(rows: list[dict[str, Any]]) -> None:
    doc = document(rows)
    assert doc["dependency_lag"] == {
        "max_s": 30.0,
        "edges": [
            {
                "producer": f"sqlmesh:{LIFETIME}",
                "consumer": f"dbt:{VALUE}",
                "dag_id": "shop",
                "run_id": "scheduled__2026-12-06",
                "producer_ended_at": "2026-12-06T07:30:00+00:00",
                "consumer_started_at": "2026-12-06T07:30:12+00:00",
                "lag_s": 12.0,
            },
            {
                "producer": f"sqlmesh:{LIFETIME}",
                "consumer": f"dbt:{VALUE}",
                "dag_id": "shop",
                "run_id": "scheduled__2026-12-07",
                "producer_ended_at": "2026-12-07T07:30:00+00:00",
                "consumer_started_at": "2026-12-07T07:30:30+00:00",
                "lag_s": 30.0,
            },
        ],
    }
    # audits 4 x 2, dbt tests 3, contract checks 1 passed; 1 dbt test and 1 contract check failed
    assert doc["data_quality"] == {"passed": 12, "failed": 2, "score_pct": 85.7}
    assert doc["sla"] == {"checks": 2, "met": 1, "compliance_pct": 50.0}
    deployments = doc["deployments"]
    assert {k: v for k, v in deployments.items() if k != "recent"} == {
        "total": 3,
        "succeeded": 2,
        "failed": 0,
        "rolled_back": 1,
        "interrupted": 0,
        "success_rate_pct": 66.7,
    }
    assert [d["id"] for d in deployments["recent"]] == ["d3", "d2", "d1"]
    assert deployments["recent"][0] == {
        "id": "d3",
        "environment": "development",
        "status": "succeeded",
        "started_at": "2026-12-05T09:00:00+00:00",
        "finished_at": "2026-12-05T10:00:00+00:00",
    }
    assert doc["failing_checks"] == [
        {
            "at": "2026-12-07T07:31:00+00:00",
            "engine": "sqlmesh",
            "model": LIFETIME,
            "kind": "contract_check",
            "dag_id": "shop",
            "run_id": "scheduled__2026-12-07",
            "task_id": "check",
            "message": "freshness SLA missed",
        },
        {
            "at": "2026-12-07T07:30:30+00:00",
            "engine": "dbt",
            "model": VALUE,
            "kind": "model",
            "dag_id": "shop",
            "run_id": "scheduled__2026-12-07",
            "task_id": f"dbt.{VALUE}",
            "message": "not_null_customer_value_id: 1 failure",
        },
    ]
    json.dumps(doc)  # serialisable as it is


def test_all_environments(rows: list[dict[str, Any]]) -> None:
    doc = document(rows, environment=None)
    assert doc["environment"] is None
    assert doc["engines"]["sqlmesh"]["executions"] == 7
    # the production run: 1 h on large (8.0) on top of the development costs
    assert doc["cost"]["by_engine"]["sqlmesh"] - document(rows)["cost"]["by_engine"]["sqlmesh"] == pytest.approx(
        8.0 + 1 / 1 * (9000 / 9360 - 5400 / 5760)  # Dec 7's shared 1.0 now split 9000 s : 360 s
    )
    assert doc["deployments"]["total"] == 4 and doc["deployments"]["failed"] == 1
    assert doc["deployments"]["success_rate_pct"] == 50.0


def test_without_prices_nothing_costs_and_the_document_says_so(rows: list[dict[str, Any]]) -> None:
    doc = document(rows, config=MonitoringSpec())
    assert doc["cost"]["total"] == 0.0 and doc["cost"]["shared"] == 0.0
    assert doc["cost"]["percentages"] == {"sqlmesh": None, "dbt": None, "shared": None}
    assert doc["cost"]["estimated"].startswith("Cost is not configured")
    assert doc["engines"]["dbt"]["cost"] == 0.0 and doc["engines"]["dbt"]["cost_share_pct"] is None
    assert [d["date"] for d in doc["daily"]] == [
        "2026-12-04",
        "2026-12-05",
        "2026-12-06",
        "2026-12-07",
    ]  # run days only
    assert doc["monthly"][0]["budget"] is None and doc["monthly"][0]["variance"] is None


def test_empty_history() -> None:
    doc = metrics_document([], [], EDGES, MonitoringSpec(), since=SINCE, until=UNTIL, environment=None)
    assert doc["engines"]["sqlmesh"] == {
        "executions": 0,
        "failed": 0,
        "error_rate_pct": None,
        "execution_s": 0.0,
        "avg_execution_s": None,
        "busy_share_pct": None,
        "cost": 0.0,
        "cost_share_pct": None,
    }
    assert (doc["models"], doc["trend"], doc["daily"], doc["failing_checks"]) == ([], [], [], [])
    assert doc["dependency_lag"] == {"max_s": None, "edges": []}
    assert doc["data_quality"]["score_pct"] is None and doc["sla"]["compliance_pct"] is None
    assert doc["deployments"]["success_rate_pct"] is None


def test_consumer_starting_before_the_producer_ended_is_no_lag() -> None:
    early = [
        run("sqlmesh", LIFETIME, T(6, 7), 60),  # ends 07:01
        run("dbt", VALUE, T(6, 7, 0, 30), 10),  # started before: not waiting on it in this run
        run("sqlmesh", LIFETIME, T(7, 7), 60, "failed"),  # a failed producer ends nothing
        run("dbt", VALUE, T(7, 7, 5), 10),
    ]
    rows = [{**r.__dict__} for r in early]
    doc = metrics_document(rows, [], EDGES, MonitoringSpec(), since=SINCE, until=UNTIL, environment=None)
    assert doc["dependency_lag"] == {"max_s": None, "edges": []}


def test_window_days_and_last_days() -> None:
    assert window_days(T(1, 0), T(8, 0)) == [T(d, 0).date() for d in range(1, 8)]
    assert window_days(T(1, 23), T(2, 0, 0, 1)) == [T(1, 0).date(), T(2, 0).date()]
    assert window_days(T(2, 0), T(1, 0)) == []
    since, until = last_days(30, T(7, 12))
    assert (since, until) == (datetime(2026, 11, 8, tzinfo=UTC), T(7, 12))
    assert len(window_days(since, until)) == 30


# ---------------------------------------------------------------- through the project's connection


@pytest.fixture
def recorded_warehouse(example_project: Path, duckdb_warehouse: Path) -> Path:
    """The example project's warehouse with two runs of today and a deployment."""
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=1)  # inside a window of the last 2 days, whatever the time
    db = duckdb.connect(str(duckdb_warehouse))
    warehouse = Warehouse(db.cursor(), "duckdb")
    history.record(
        warehouse,
        [
            RunRecord(
                "model",
                "sqlmesh",
                "development",
                LIFETIME,
                "success",
                "shop",
                "manual__1",
                "stage_2",
                started_at=start,
                ended_at=start + timedelta(seconds=20),
                duration_s=20.0,
            ),
            RunRecord(
                "model",
                "dbt",
                "development",
                VALUE,
                "success",
                "shop",
                "manual__1",
                "stage_3",
                started_at=start + timedelta(seconds=25),
                ended_at=start + timedelta(seconds=27),
                duration_s=2.0,
            ),
        ],
    )
    records.start(warehouse, "dep-1", "development", "alice", None, None)
    records.finish(warehouse, "dep-1", "succeeded")
    db.close()
    return duckdb_warehouse


def test_load_metrics_reads_the_projects_warehouse(example_project: Path, recorded_warehouse: Path) -> None:
    doc = load_metrics(example_project, "development", days=2)
    assert doc["window"]["days"] == 2 and doc["environment"] == "development"
    assert (doc["engines"]["sqlmesh"]["executions"], doc["engines"]["dbt"]["executions"]) == (1, 1)
    # the example project's graph has sqlmesh:intermediate.customer_lifetime -> dbt:customer_value
    assert [(e["producer"], e["consumer"], e["lag_s"]) for e in doc["dependency_lag"]["edges"]] == [
        (f"sqlmesh:{LIFETIME}", f"dbt:{VALUE}", 5.0)
    ]
    assert doc["deployments"]["total"] == 1 and doc["deployments"]["succeeded"] == 1
    # the example's config/monitoring.yml prices development: sqlmesh small (2.0/h), dbt x-small (1.0/h)
    assert doc["models"][1]["cost"] == round(20 / 3600 * 2.0, 6)
    assert doc["models"][0]["cost"] == round(2 / 3600 * 1.0, 6)


def test_metrics_verb_prints_a_summary_and_json(
    example_project: Path, recorded_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="dualengine")
    cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["metrics", str(example_project), "-e", "development", "--days", "3", "--json"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["window"]["days"] == 3 and doc["engines"]["dbt"]["executions"] == 1
    args = parser.parse_args(["metrics", str(example_project)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("all environments, ")
    assert "sqlmesh           1       0    0.0%       20.0" in out
    assert "deployments: 1 (1 succeeded, 0 failed, 0 rolled back, 0 interrupted); success rate 100.0%" in out
    assert f"cross-engine dependency lag: max 5.0 s (sqlmesh:{LIFETIME} -> dbt:{VALUE}, run manual__1)" in out
    with pytest.raises(SystemExit):
        parser.parse_args(["metrics", str(example_project), "--days", "0"])


def test_report_verb_writes_the_report(
    example_project: Path, recorded_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report shows the figures `dualengine metrics --json` prints for the same window."""
    import html

    from airflow_provider_dualengine.monitoring.report import count, money, pct, seconds

    parser = argparse.ArgumentParser(prog="dualengine")
    cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["metrics", str(example_project), "--days", "3", "--json"])
    assert args.func(args) == 0
    doc = json.loads(capsys.readouterr().out)
    target = tmp_path / "report.html"
    args = parser.parse_args(["report", str(example_project), "--days", "3", "-o", str(target)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip().endswith(str(target))
    page = html.unescape(target.read_text())
    assert money(doc["cost"]["total"], doc["currency"]) in page
    for engine in ("sqlmesh", "dbt"):
        figures = doc["engines"][engine]
        assert pct(figures["error_rate_pct"]) in page and count(figures["executions"]) in page
    assert seconds(doc["dependency_lag"]["max_s"]) in page
    for model in doc["models"]:
        assert model["model"] in page and seconds(model["last_execution_s"]) in page


def test_a_warehouse_held_by_another_process_is_busy(recorded_warehouse: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a running pipeline task does to the CLI: it waits, then WarehouseBusy (exit 3)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)",
            str(recorded_warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("DUALENGINE_BUSY_WAIT_S", "0.5")
        with pytest.raises(WarehouseBusy, match="is busy"):
            read_history("dualengine_warehouse", datetime.now(UTC) - timedelta(days=1), None)
    finally:
        holder.kill()
        holder.wait()
    rows, deployments = read_history("dualengine_warehouse", datetime.now(UTC) - timedelta(days=1), None)
    assert (len(rows), len(deployments)) == (2, 1)  # free again: read, and nothing was written by waiting


def test_freshness_lag_is_the_data_age_at_each_models_latest_check() -> None:
    from airflow_provider_dualengine.monitoring.metrics import _freshness_lag

    def check(model: str, age: float | None, at: datetime) -> dict[str, Any]:
        return {
            "kind": "contract_check",
            "engine": "sqlmesh",
            "model": model,
            "data_age_s": age,
            "started_at": at,
            "ended_at": at,
        }

    t0 = datetime(2026, 12, 7, 8, tzinfo=UTC)
    rows = [
        check("a", 7200.0, t0),
        check("a", 60.0, t0 + timedelta(hours=1)),
        check("b", 300.0, t0),
        check("c", None, t0),
    ]
    assert _freshness_lag(rows) == {
        "max_s": 300.0,
        "models": [
            {"engine": "sqlmesh", "model": "a", "age_s": 60.0, "checked_at": "2026-12-07T09:00:00+00:00"},
            {"engine": "sqlmesh", "model": "b", "age_s": 300.0, "checked_at": "2026-12-07T08:00:00+00:00"},
        ],
    }
