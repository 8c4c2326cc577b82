"""Run records as Airflow metrics: a task-like process with Airflow's StatsD logger pointed
at a real UDP socket here, and the packets it receives."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from airflow_provider_dualengine.monitoring.history import RunRecord
from airflow_provider_dualengine.monitoring.stats import metric_points

pytest.importorskip("statsd", reason="Airflow's StatsD logger needs the statsd package (apache-airflow[statsd])")

# The task runner's own set-up of Stats (airflow/sdk/execution_time/task_runner.py main()),
# then our records: what a model task does after its engine ran.
TASK = """
from datetime import UTC, datetime
from airflow.sdk._shared.observability.metrics import stats
from airflow.sdk.configuration import conf
from airflow.sdk.observability.metrics import stats_utils
from airflow_provider_dualengine.monitoring.history import RunRecord
from airflow_provider_dualengine.monitoring.stats import emit_records

stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=conf.getboolean("metrics", "legacy_names_on"))
at = datetime(2026, 12, 7, 6, tzinfo=UTC)
common = dict(environment="development", dag_id="shop", run_id="r1", started_at=at)
print(emit_records([
    RunRecord("model", "sqlmesh", model="staging.stg_orders", status="success", task_id="s1", duration_s=1.5, tests_passed=2, **common),
    RunRecord("model", "dbt", model="customer_value", status="failed", task_id="d1", duration_s=0.25, tests_failed=2, **common),
    RunRecord("model", "dbt", model="customer_order_summary", status="skipped", task_id="d1", **common),
    RunRecord("contract_check", "sqlmesh", model="intermediate.customer_lifetime", status="failed", task_id="c1", sla_met=False, tests_failed=1, **common),
]))
"""


def _packets(**metrics: str) -> tuple[str, list[str]]:
    """Run TASK with `[metrics]` set from `metrics` and StatsD pointed at a socket here;
    (its output, our packets received: Airflow sends its own metrics too)."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    env = {
        **os.environ,
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(receiver.getsockname()[1]),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        **{f"AIRFLOW__METRICS__{k.upper()}": v for k, v in metrics.items()},
    }
    try:
        done = subprocess.run([sys.executable, "-c", TASK], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        sent = int(done.stdout.strip().splitlines()[-1])
        packets = []
        receiver.settimeout(0.5)  # the sender has exited: everything sent is here or lost
        while True:
            try:
                packets.append(receiver.recv(65535).decode())
            except TimeoutError:
                break
    finally:
        receiver.close()
    ours = [p for p in packets if p.startswith("airflow.dualengine.")]
    assert len(ours) == sent
    return done.stdout, ours


def test_plain_statsd_gets_the_tags_in_the_name() -> None:
    _, packets = _packets()
    assert sorted(p.split(":")[0] + "|" + p.split("|")[1] for p in packets) == sorted(
        [
            "airflow.dualengine.model.duration.sqlmesh.development.staging__stg_orders|ms",
            "airflow.dualengine.model.succeeded.sqlmesh.development.staging__stg_orders|c",
            "airflow.dualengine.model.duration.dbt.development.customer_value|ms",
            "airflow.dualengine.model.failed.dbt.development.customer_value|c",
            "airflow.dualengine.tests.failed.dbt.development.customer_value|c",
            "airflow.dualengine.tests.failed.sqlmesh.development.intermediate__customer_lifetime|c",
            "airflow.dualengine.contract.sla_missed.sqlmesh.development.intermediate__customer_lifetime|c",
        ]
    )
    values = {p.split(":")[0]: p.split(":")[1] for p in packets}
    assert (
        float(values["airflow.dualengine.model.duration.sqlmesh.development.staging__stg_orders"].split("|")[0])
        == 1500.0
    )
    assert values["airflow.dualengine.tests.failed.dbt.development.customer_value"] == "2|c"


def test_statsd_with_influxdb_tags_keeps_the_name_and_tags_it() -> None:
    _, packets = _packets(statsd_influxdb_enabled="True")
    names = sorted(p.rsplit(":", 1)[0] for p in packets)
    assert "airflow.dualengine.model.duration,engine=sqlmesh,environment=development,model=staging.stg_orders" in names
    assert (
        "airflow.dualengine.contract.sla_missed,engine=sqlmesh,environment=development,model=intermediate.customer_lifetime"
        in names
    )
    assert len(names) == 7


def test_metric_points_of_each_kind_of_record() -> None:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    base = dict(environment="production", model="m", dag_id="d", run_id="r", task_id="t", started_at=at)
    assert metric_points(RunRecord("model", "dbt", status="success", duration_s=0.5, **base)) == [
        ("timing", "dualengine.model.duration", 500.0),
        ("incr", "dualengine.model.succeeded", 1),
    ]
    # no duration reported: the counter only
    assert metric_points(RunRecord("model", "dbt", status="failed", **base)) == [("incr", "dualengine.model.failed", 1)]
    assert metric_points(RunRecord("model", "dbt", status="skipped", **base)) == []
    assert (
        metric_points(RunRecord("contract_check", "dbt", status="success", sla_met=True, tests_passed=1, **base)) == []
    )
