"""SQLMesh's half of a coordinated promotion, through SQLMesh's own API.

SQLMesh promotes by pointing each prod view at a snapshot's physical table. Its apply
records the new prod environment in state first and then replaces views one statement at
a time, so a process dying in between leaves prod mixed. We therefore:

1. check the prod plan is a pure view swap of exactly what was validated (`promotable_plan`),
2. let the caller replace those prod views - with the dbt switch - in ONE warehouse
   transaction (`view_mapping` gives the statements' names, quoted by sqlglot),
3. then apply SQLMesh's plan so its state agrees (`record_in_state`); it re-creates the
   same views, inside one transaction so they never disappear in between.

`restore_state` writes a saved prod environment back after a rollback.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name


class PromotionRefused(RuntimeError):
    """The prod plan is not a pure view swap of what was validated."""


class PromotionWouldBackfill(PromotionRefused):
    """The prod plan would create snapshots or compute intervals."""


def view_mapping(ctx: Any, source_environment: str, target_environment: str = "prod") -> dict[str, str]:
    """Quoted prod view -> quoted physical table, for every model of `source_environment`,
    as the views would be named in `target_environment`. {} if the source does not exist."""
    env = ctx.state_reader.get_environment(source_environment)
    return _mapping(ctx, env.snapshots if env else [], target_environment)


def promotable_plan(ctx: Any, source_environment: str, target_environment: str = "prod") -> Any | None:
    """The plan that makes `target_environment` equal to the validated `source_environment`,
    or None if it already is. Raises PromotionRefused if it would create a snapshot,
    backfill an interval, or the code differs from what was validated."""
    from sqlmesh.utils.errors import NoChangesPlanError

    from airflow_provider_dualengine.engines.sqlmesh.plans import environment_snapshot_ids, summarize_plan

    validated = environment_snapshot_ids(ctx, source_environment)
    if not validated:
        raise PromotionRefused(f"SQLMesh environment '{source_environment}' does not exist: plan and validate it before promoting")
    try:
        # Tests ran when the source environment was validated; here only fingerprints matter.
        plan = ctx.plan(target_environment, no_prompts=True, auto_apply=False, skip_tests=True)
    except NoChangesPlanError:
        return None
    summary = summarize_plan(plan)
    if summary["new_snapshots"] or summary["backfill"]:
        raise PromotionWouldBackfill(
            f"promoting to '{target_environment}' would create {summary['new_snapshots'] or 'no'} snapshots and backfill "
            f"{sorted(summary['backfill']) or 'nothing'}; plan and validate '{source_environment}' with this code first"
        )
    planned = {plain_name(s.name): s.identifier for s in plan.environment.snapshots}
    drift = sorted(m for m, sid in planned.items() if validated.get(m) != sid)
    if drift:
        raise PromotionRefused(f"code differs from what was validated in '{source_environment}' for: {', '.join(drift)}")
    return plan


def record_in_state(ctx: Any, plan: Any | None) -> None:
    """Apply the (view-swap only) plan so SQLMesh's state names the promoted snapshots."""
    if plan is None:
        return
    with ctx.engine_adapter.transaction():
        ctx.apply(plan)


def saved_environment(ctx: Any, name: str = "prod") -> str | None:
    """The environment's state record as JSON, to restore after a rollback (None if absent)."""
    env = ctx.state_reader.get_environment(name)
    return env.json() if env else None


def restore_state(ctx: Any, saved: str | None, name: str = "prod") -> None:
    """Make SQLMesh's state name the saved environment's snapshots again (the views were
    already restored by the caller). With nothing saved, the environment is invalidated."""
    import uuid

    from sqlmesh.core.environment import Environment

    current = ctx.state_reader.get_environment(name)
    if saved is None:
        if current is not None and name != "prod":
            ctx.invalidate_environment(name, sync=True)
        return
    env = Environment.parse_raw(saved)
    # SQLMesh refuses a record whose previous plan is not the current one (concurrent plans).
    env = env.copy(update={"plan_id": uuid.uuid4().hex, "previous_plan_id": current.plan_id if current else None, "finalized_ts": None})
    ctx.state_sync.promote(env)
    ctx.state_sync.finalize(env)


def _mapping(ctx: Any, snapshots: Any, target_environment: str) -> dict[str, str]:
    from sqlmesh.core.environment import EnvironmentNamingInfo

    dialect = ctx.engine_adapter.dialect
    naming = EnvironmentNamingInfo(name=target_environment)
    mapping = {}
    for snapshot in snapshots:
        view = snapshot.qualified_view_name.table_for_environment(naming, dialect=dialect)
        view.set("catalog", None)  # the connection's own catalog, as dbt and our views use
        physical = _without_catalog(snapshot.table_name(), dialect)
        mapping[view.sql(dialect=dialect, identify=True)] = physical
    return mapping


def _without_catalog(name: str, dialect: str) -> str:
    from sqlglot import exp

    table = exp.to_table(name, dialect=dialect)
    table.set("catalog", None)
    return table.sql(dialect=dialect, identify=True)
