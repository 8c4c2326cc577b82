"""Run history records as Airflow metrics, through the same `Stats` the task SDK sends its
own task metrics with, so they reach StatsD, Datadog or OpenTelemetry as the cluster's
`[metrics]` section configures (nothing when metrics are off).

Names (docs/monitoring.md): `dualengine.model.duration` (timer, ms),
`dualengine.model.succeeded` and `dualengine.model.failed` (counters, one per model
execution), `dualengine.tests.failed` (counter: failed dbt tests, SQLMesh audits or
contract checks), `dualengine.contract.sla_missed` (counter). Each carries the tags
`engine`, `environment` and `model`. Plain StatsD has no tags (Airflow drops them), so
there the tags go into the name instead, as Airflow's own legacy names do:
`dualengine.model.duration.<engine>.<environment>.<model>`, dots of the model name as `__`.

Only a task process has Airflow's metrics set up (the task runner initialises `Stats`
from the configuration); elsewhere `Stats` sends nothing. Metrics never fail a task.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from airflow_provider_dualengine.monitoring.history import RunRecord

log = logging.getLogger(__name__)

DURATION = "dualengine.model.duration"
SUCCEEDED = "dualengine.model.succeeded"
FAILED = "dualengine.model.failed"
TESTS_FAILED = "dualengine.tests.failed"
SLA_MISSED = "dualengine.contract.sla_missed"


def tags_in_name() -> bool:
    """Whether the configured backend is plain StatsD, which keeps no tags (the same
    choice of backend as Airflow's own stats factory: Datadog, then StatsD, then OTel)."""
    from airflow.sdk.configuration import conf

    if conf.getboolean("metrics", "statsd_datadog_enabled", fallback=False):
        return False
    if conf.getboolean("metrics", "statsd_on", fallback=False):
        return not conf.getboolean("metrics", "statsd_influxdb_enabled", fallback=False)
    return False


def metric_points(record: RunRecord) -> list[tuple[str, str, float]]:
    """(kind, name, value) of the metrics one record gives: kind "timing" (ms) or "incr"."""
    points: list[tuple[str, str, float]] = []
    if record.kind == "model" and record.status in ("success", "failed"):
        if record.duration_s is not None:
            points.append(("timing", DURATION, record.duration_s * 1000))
        points.append(("incr", SUCCEEDED if record.status == "success" else FAILED, 1))
    if record.tests_failed > 0:
        points.append(("incr", TESTS_FAILED, record.tests_failed))
    if record.kind == "contract_check" and record.sla_met is False:
        points.append(("incr", SLA_MISSED, 1))
    return points


def emit_records(records: Iterable[RunRecord]) -> int:
    """Send the metrics of `records` through Airflow's Stats; the number of metrics sent
    (those sent before a failure, which is logged: a task's outcome never depends on its metrics)."""
    sent = 0
    try:
        from airflow.sdk.observability.stats import Stats, normalize_name_for_stats

        in_name = tags_in_name()
        for record in records:
            tags = {"engine": record.engine, "environment": record.environment, "model": record.model}
            suffix = ""
            if in_name:
                parts = (record.engine, record.environment, record.model.replace(".", "__"))
                suffix = "." + ".".join(normalize_name_for_stats(p, log_warning=False) for p in parts)
            for kind, name, value in metric_points(record):
                if kind == "timing":
                    Stats.timing(name + suffix, value, tags=tags)
                else:
                    Stats.incr(name + suffix, int(value), tags=tags)
                sent += 1
        return sent
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("run metrics not sent: %s: %s", type(exc).__name__, exc)
        return sent
