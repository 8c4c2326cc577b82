"""Turn SQLMesh plans into small JSON-able summaries (XCom, logs, the demo summary)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name


def summarize_plan(plan: Any) -> dict[str, Any]:
    from sqlmesh.utils.date import to_ds

    snapshots = plan.snapshots
    backfill = {}
    for item in plan.missing_intervals:
        name = snapshots[item.snapshot_id].name if item.snapshot_id in snapshots else item.snapshot_id.name
        merged = item.merged_intervals
        backfill[plain_name(name)] = {
            "intervals": len(item.intervals),
            "from": to_ds(merged[0][0]) if merged else None,
            "to": to_ds(merged[-1][1]) if merged else None,
        }
    return {
        "environment": plan.environment.name,
        "has_changes": plan.has_changes,
        "new_snapshots": sorted(plain_name(s.name) for s in plan.new_snapshots),
        "backfill": backfill,
    }


def environment_snapshot_ids(ctx: Any, environment: str) -> dict[str, str]:
    """model -> snapshot fingerprint id currently promoted in `environment` ({} if none)."""
    env = ctx.state_reader.get_environment(environment)
    return {plain_name(s.name): s.identifier for s in env.snapshots} if env else {}
