"""Turn SQLMesh plans into small JSON-able summaries (XCom, logs, the demo summary)."""

from __future__ import annotations

from typing import Any

from sqlmesh.core.plan import Plan
from sqlmesh.utils.date import to_ds


def summarize_plan(plan: Plan) -> dict[str, Any]:
    snapshots = plan.snapshots
    backfill = {}
    for item in plan.missing_intervals:
        name = snapshots[item.snapshot_id].name if item.snapshot_id in snapshots else item.snapshot_id.name
        merged = item.merged_intervals
        backfill[_plain(name)] = {"intervals": len(item.intervals), "from": to_ds(merged[0][0]) if merged else None, "to": to_ds(merged[-1][1]) if merged else None}
    return {
        "environment": plan.environment.name,
        "has_changes": plan.has_changes,
        "new_snapshots": sorted(_plain(s.name) for s in plan.new_snapshots),
        "backfill": backfill,
        "models": sorted(_plain(s.name) for s in plan.environment.snapshots) if plan.environment.snapshots else [],
    }


def _plain(fqn: str) -> str:
    """'"shop"."staging"."stg_orders"' -> 'staging.stg_orders' (catalog dropped)."""
    parts = [p.strip('"') for p in fqn.split(".")]
    return ".".join(parts[-2:])
