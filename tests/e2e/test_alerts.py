"""Alerts and metrics from real runs (DuckDB; the alert store on PostgreSQL: unit tests).

A baseline run of the example, then a run where the SQLMesh Python model takes over 10x
its baseline and a SQLMesh model's dbt consumer starts long after it finished (a missed
dependency window). Runs go through dag.test() in a child process whose Airflow sends its
metrics to a StatsD (UDP) listener here; alerts go to a webhook receiver here. Then the
monitor DAG evaluates the window and must not repeat anything.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.dag_test_child import run_in_child
from tests.warehouses import Warehouse

# The baseline run's lag (stg_orders -> stg_completed_orders) is ~7 s here; margins for a loaded CI machine.
BASELINE_SLEEP_S, SLOW_SLEEP_S, LAG_LIMIT_S = 1.5, 22, 18

MONITORING = """
alerts:
  - name: performance_degradation
    condition: "avg_execution_time > 2 * baseline"
    severity: medium
    actions: [notify_team]
  - name: cross_engine_dependency_failure
    condition: "dependency_lag > {lag} seconds"
    severity: high
    actions: [notify_on_call]
notifiers:
  notify_team:
    class: airflow_provider_dualengine.notifications.webhook.WebhookNotifier
    args: {{url: "{url}/team"}}
  notify_on_call:
    class: airflow_provider_dualengine.notifications.webhook.WebhookNotifier
    args: {{url: "{url}/on_call"}}
"""


@pytest.fixture
def statsd() -> Iterator[tuple[int, list[str]]]:
    """A StatsD server: every metric line received over UDP on 127.0.0.1."""
    lines: list[str] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                lines.extend(sock.recv(65536).decode().splitlines())
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], lines
    stop.set()
    thread.join()
    sock.close()


def _run(source: str, dag_id: str, statsd_port: int, tmp_path: Path) -> dict[str, Any]:
    """dag.test() in a child whose Airflow sends its metrics to the StatsD listener."""
    statsd = {
        "STATSD_ON": "True",
        "STATSD_HOST": "127.0.0.1",
        "STATSD_PORT": str(statsd_port),
        "STATSD_PREFIX": "airflow",
    }
    env = {f"AIRFLOW__METRICS__{k}": v for k, v in statsd.items()}
    return run_in_child(source, dag_id, env, tmp_path / f"{dag_id}.json")


def _sleep_in_python_model(shop: Path, seconds: float) -> None:
    model = shop / "sqlmesh" / "models" / "shared" / "customer_enhanced.py"
    source = model.read_text()
    marker = "    df = context.fetchdf(query)\n"
    head, _, tail = source.partition(marker)
    lines = [line for line in head.splitlines(keepends=True) if "time.sleep" not in line]
    model.write_text("".join(lines) + f"    __import__('time').sleep({seconds})\n" + marker + tail)


# DuckDB only: the alert store on PostgreSQL is covered by tests/unit/monitoring/test_alerts.py,
# the run history on PostgreSQL by test_lineage_names.py and tests/integration/test_run_history.py.
@pytest.mark.e2e
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_slow_model_and_a_missed_window_alert_once_and_metrics_reach_statsd(
    shop: Path, warehouse: Warehouse, webhook, statsd, tmp_path: Path, scenario_dag
) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    url, alerts = webhook
    port, lines = statsd
    monitoring = shop / "config" / "monitoring.yml"
    monitoring.write_text(
        monitoring.read_text().replace("alerts: []\n", "") + MONITORING.format(lag=LAG_LIMIT_S, url=url)
    )
    kind = warehouse.kind
    pipeline = (
        f"from airflow_provider_dualengine import build_dag\ndag = build_dag({str(shop)!r}, dag_id='alerts_{kind}')\n"
    )

    _sleep_in_python_model(shop, BASELINE_SLEEP_S)
    compile_project(load_project(shop))
    baseline = _run(pipeline, f"alerts_{kind}", port, tmp_path)
    assert baseline["state"] == "success", baseline["task_states"]
    assert baseline["task_states"]["alerts"] == "success" and alerts == []  # nothing to compare with yet

    # Run 2: the Python model sleeps 22 s; stg_orders changes too, so SQLMesh runs it again
    # and its dbt consumer (stage 2) starts only after the slow model's stage ends.
    _sleep_in_python_model(shop, SLOW_SLEEP_S)
    orders = shop / "sqlmesh" / "models" / "staging" / "stg_orders.sql"
    orders.write_text(
        orders.read_text().replace("amount::DECIMAL(10, 2) AS amount", "ROUND(amount, 2)::DECIMAL(10, 2) AS amount")
    )
    compile_project(load_project(shop))
    slow = _run(pipeline, f"alerts_{kind}", port, tmp_path)
    assert slow["state"] == "success", slow["task_states"]

    by_channel: dict[str, list[dict[str, Any]]] = {}
    for path, body in alerts:
        by_channel.setdefault(path, []).append(body)
    [perf] = by_channel["/team"]  # exactly once, for the one model that slowed down
    assert (perf["rule"], perf["models"], perf["engines"], perf["owners"]) == (
        "performance_degradation",
        ["sqlmesh:staging.customer_enhanced"],
        ["sqlmesh"],
        ["data-platform"],
    )
    assert perf["value"] > 2 * BASELINE_SLEEP_S and perf["run_id"] == slow["run_id"]
    assert perf["task_id"] == "stage_1_sqlmesh.sqlmesh.run_stage" and perf["dag_id"] == f"alerts_{kind}"
    run_in_url = quote(slow["run_id"], safe="")  # manual__2026-...:00+00:00 as a URL path segment
    assert perf["link"].endswith(f"/dags/alerts_{kind}/runs/{run_in_url}/tasks/stage_1_sqlmesh.sqlmesh.run_stage")
    [lag] = by_channel["/on_call"]
    assert (lag["rule"], lag["models"], lag["severity"]) == (
        "cross_engine_dependency_failure",
        ["sqlmesh:staging.stg_orders", "dbt:stg_completed_orders"],
        "high",
    )
    assert lag["value"] > LAG_LIMIT_S and lag["owners"] == ["data-platform", "analytics"]
    assert slow["returns"]["alerts"]["fired"] == 2

    # The monitor DAG sees the same window: nothing is said twice (in this process: it sends
    # no metrics, so it needs no child with StatsD configured).
    monitor = f"from airflow_provider_dualengine import build_monitor_dag\ndag = build_monitor_dag({str(shop)!r}, dag_id='monitor_{kind}')\n"
    watched = scenario_dag(f"monitor_{kind}", monitor)
    summary = watched.get_task_instance("alerts").xcom_pull(task_ids="alerts")
    assert str(watched.state) == "success" and summary["delivered"] == [] and summary["fired"] >= 2
    assert len(alerts) == 2

    # Metrics arrived at StatsD under the documented names (plain StatsD: tags in the name).
    names = {line.split(":", 1)[0] for line in lines}
    assert "airflow.dualengine.model.duration.sqlmesh.development.staging__customer_enhanced" in names
    assert "airflow.dualengine.model.succeeded.dbt.development.customer_value" in names
    durations = [
        float(line.split(":", 1)[1].split("|")[0])
        for line in lines
        if line.startswith("airflow.dualengine.model.duration.sqlmesh.development.staging__customer_enhanced:")
    ]
    assert len(durations) == 2 and max(durations) > SLOW_SLEEP_S * 1000  # milliseconds, the slow run's
