"""Alert evaluation on a metrics document, delivery through notifiers, no repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from airflow.sdk import BaseNotifier

from airflow_provider_dualengine.hooks.warehouse import Warehouse
from airflow_provider_dualengine.monitoring import alerts
from airflow_provider_dualengine.monitoring.alert_rules import load_rules

RULES = load_rules(
    [
        {"name": "slow", "condition": "avg_execution_time > 2 * baseline", "severity": "medium", "actions": ["team"]},
        {"name": "lag", "condition": "dependency_lag > 1 hour", "severity": "high", "actions": ["oncall"]},
        {"name": "rolled_back", "condition": "deployment_rolled_back", "severity": "high", "actions": ["oncall"]},
        {"name": "contract", "condition": "contract_failed", "severity": "high", "actions": ["team", "oncall"]},
        {"name": "cost", "condition": "daily_cost > 1.5 * baseline", "severity": "medium", "actions": ["team"]},
    ],
    {"team", "oncall"},
    Path("monitoring.yml"),
)


def _row(model: str, engine: str, run_id: str, kind: str = "model", status: str = "success", **extra: Any) -> dict:
    return {
        "kind": kind,
        "engine": engine,
        "model": model,
        "run_id": run_id,
        "status": status,
        "dag_id": "shop",
        "task_id": f"t.{model}",
        "message": None,
        **extra,
    }


DOCUMENT = {
    "currency": "USD",
    "window": {"until": "2026-12-07T12:00:00+00:00"},
    "trend": [
        {
            "at": "2026-12-06T10:00:00+00:00",
            "engine": "sqlmesh",
            "model": "staging.enh",
            "execution_s": 3.0,
            "baseline_s": None,
            "status": "success",
            "run_id": "r1",
        },
        {
            "at": "2026-12-07T10:00:00+00:00",
            "engine": "sqlmesh",
            "model": "staging.enh",
            "execution_s": 7.0,
            "baseline_s": 3.0,
            "status": "success",
            "run_id": "r2",
        },
        {
            "at": "2026-12-07T10:00:00+00:00",
            "engine": "dbt",
            "model": "mart",
            "execution_s": 5.0,
            "baseline_s": 3.0,
            "status": "success",
            "run_id": "r2",
        },
    ],
    "dependency_lag": {
        "edges": [
            {
                "producer": "sqlmesh:staging.enh",
                "consumer": "dbt:mart",
                "dag_id": "shop",
                "run_id": "r2",
                "lag_s": 4000.0,
            },
            {
                "producer": "sqlmesh:staging.enh",
                "consumer": "dbt:mart",
                "dag_id": "shop",
                "run_id": "r1",
                "lag_s": 20.0,
            },
        ]
    },
    "deployments": {
        "recent": [
            {"id": "dep-2", "environment": "production", "status": "rolled_back"},
            {"id": "dep-1", "environment": "production", "status": "succeeded"},
        ]
    },
    "daily": [
        {"date": "2026-12-05", "cost": {"total": 2.0}},
        {"date": "2026-12-06", "cost": {"total": 2.2}},
        {"date": "2026-12-07", "cost": {"total": 3.5}},
    ],
}
for _point in DOCUMENT["trend"]:  # the metrics document names each execution's run by DAG and run id
    _point["dag_id"] = "shop"
ROWS = [
    _row("staging.enh", "sqlmesh", "r2"),
    _row("mart", "dbt", "r2"),
    _row("staging.enh", "sqlmesh", "r2", kind="contract_check", status="failed", message="check customer_score: 1 row"),
]


def test_each_rule_fires_on_what_breaks_it_and_names_models_owners_and_task() -> None:
    fired = alerts.evaluate(
        RULES,
        DOCUMENT,
        ROWS,
        run_id="r2",
        dag_id="shop",
        owners={"sqlmesh:staging.enh": "data-platform", "dbt:mart": "analytics"},
        base_url="http://airflow:8080",
    )
    by_rule = {}
    for f in fired:
        by_rule.setdefault(f.rule, []).append(f)
    [slow] = by_rule["slow"]  # 7 > 2 x 3; the dbt model's 5 is under 6
    assert (slow.models, slow.engines, slow.owners, slow.value, slow.limit) == (
        ("sqlmesh:staging.enh",),
        ("sqlmesh",),
        ("data-platform",),
        7.0,
        6.0,
    )
    assert slow.link == "http://airflow:8080/dags/shop/runs/r2/tasks/t.staging.enh"
    [lag] = by_rule["lag"]  # run r1's 20 s lag is out of this run's scope and under the limit anyway
    assert lag.models == ("sqlmesh:staging.enh", "dbt:mart") and lag.owners == ("data-platform", "analytics")
    assert [f.subject for f in by_rule["rolled_back"]] == ["deployment:dep-2"]
    assert [f.message for f in by_rule["contract"]] == [
        "contract check failed for sqlmesh:staging.enh: check customer_score: 1 row"
    ]
    [cost] = by_rule["cost"]  # today's 3.5 > 1.5 x the median of the earlier days (2.1)
    assert (cost.subject, cost.value, round(cost.limit, 2)) == ("daily_cost@2026-12-07", 3.5, 3.15)


def test_nothing_fires_on_the_baseline_run() -> None:
    assert [f.rule for f in alerts.evaluate(RULES[:2], DOCUMENT, ROWS, run_id="r1")] == []


class Collecting(BaseNotifier):
    """A notifier that keeps what it was given (or fails, to test that others still get it);
    `text` is templated like a chat notifier's message."""

    template_fields = ("text",)

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.got: list[dict] = []
        self.fail = fail
        self.text = "{{ dualengine_alert.severity }}: {{ dualengine_alert.message }}"

    def notify(self, context: dict) -> None:
        if self.fail:
            raise ConnectionError("channel down")
        self.got.append({**context["dualengine_alert"], "text": self.text})


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.slow)])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path):
    """The alert store on both warehouses (the alerts e2e test runs on DuckDB only)."""
    if request.param == "duckdb":
        db = duckdb.connect(str(tmp_path / "w.duckdb"))
    else:
        import psycopg2

        server, dbname = request.getfixturevalue("postgres_database")
        db = psycopg2.connect(
            host=server.host, port=server.port, user=server.user, password=server.password, dbname=dbname
        )
        db.autocommit = True
    yield Warehouse(db.cursor(), request.param)
    db.close()


def test_a_firing_is_delivered_once_and_its_scope_stays_quiet_for_the_cooldown(warehouse) -> None:
    team, oncall = Collecting(), Collecting(fail=True)
    notifiers = {"team": team, "oncall": oncall}
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    fired = alerts.evaluate(RULES, DOCUMENT, ROWS, run_id="r2")
    delivered = alerts.process(warehouse, fired, notifiers, timedelta(hours=1), now=now)
    # oncall's channel is down: rules that only notify oncall are not delivered (retried next time)
    assert sorted(f.rule for f in delivered) == ["contract", "cost", "slow"]
    assert sorted(a["rule"] for a in team.got) == ["contract", "cost", "slow"]
    # the notifier's template was rendered with the alert, and the notifier itself kept its template
    assert {a["text"] for a in team.got if a["rule"] == "slow"} == {
        "medium: sqlmesh:staging.enh ran 7.0 s, over 2 x its baseline of 3.0 s"
    }
    assert team.text.startswith("{{")
    # the same evaluation again (the monitor DAG after the run): nothing new
    assert alerts.process(warehouse, fired, notifiers, timedelta(hours=1), now=now + timedelta(minutes=5)) == []
    # the same model slow in the next run, within the cooldown: quiet; after it: alerts again
    later = [
        alerts.Firing(**{**f.__dict__, "subject": "sqlmesh:staging.enh@shop/r3", "run_id": "r3"})
        for f in fired
        if f.rule == "slow"
    ]
    assert alerts.process(warehouse, later, notifiers, timedelta(hours=1), now=now + timedelta(minutes=30)) == []
    assert [
        f.rule for f in alerts.process(warehouse, later, notifiers, timedelta(hours=1), now=now + timedelta(hours=2))
    ] == ["slow"]
    # once oncall's channel is back, what it missed is delivered
    oncall.fail = False
    assert sorted(
        f.rule for f in alerts.process(warehouse, fired, notifiers, timedelta(hours=1), now=now + timedelta(hours=3))
    ) == ["lag", "rolled_back"]
    # what the UI view lists: every delivery, newest first, with its time zone
    recent = alerts.recent(warehouse, now - timedelta(minutes=1))
    assert [a["rule"] for a in recent[:2]] in (["lag", "rolled_back"], ["rolled_back", "lag"])
    assert sorted(a["rule"] for a in recent) == ["contract", "cost", "lag", "rolled_back", "slow", "slow"]
    assert recent[0]["fired_at"] == now + timedelta(hours=3) and recent[0]["fired_at"].tzinfo is UTC
    assert alerts.recent(warehouse, now + timedelta(hours=4)) == []
