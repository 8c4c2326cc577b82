"""SQLMesh's half of a coordinated promotion, through SQLMesh's own API.

SQLMesh promotes by pointing each prod view at a snapshot's physical table. Its apply
records the new prod environment in state first and then replaces views one statement at
a time, so a process dying in between leaves prod mixed. We therefore:

1. check the prod plan is a pure view swap of exactly what was validated (`promotable_plan`),
2. let the caller replace those prod views - with the dbt switch - in ONE warehouse
   transaction (`view_bindings` names each view and table as (schema, table) parts),
3. then apply SQLMesh's plan so its state agrees (`record_in_state`); it re-creates the
   same views, inside one transaction so they never disappear in between.

`restore_state` writes a saved prod environment back after a rollback.

Bindings and saved environments are kept in deployment records, a table anyone with write
access to the warehouse can edit. So what comes back is never taken at its word:
`check_bindings` and `check_saved_environment` accept only what SQLMesh's own state says
about snapshots of this project's models, and a saved environment is rebuilt from state by
snapshot id rather than parsed from the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name


class PromotionRefused(RuntimeError):
    """The prod plan is not a pure view swap of what was validated."""


class PromotionWouldBackfill(PromotionRefused):
    """The prod plan would create snapshots or compute intervals."""


class UntrustedName(ValueError):
    """A name read back from a record is not what SQLMesh's state gives for this project."""

    def __init__(self, value: Any, reason: str):
        super().__init__(f"{value!r} {reason}")
        self.value = value
        self.reason = reason


@dataclass(frozen=True)
class ViewBinding:
    """One prod view and the physical table it selects from, with the snapshot (model name
    and identifier in SQLMesh's state) both were derived from. Names are (schema, table)
    parts, never SQL text: whoever builds a statement quotes them."""

    model: str
    snapshot: str
    view: tuple[str, str]
    physical: tuple[str, str]


def view_bindings(ctx: Any, source_environment: str, target_environment: str = "prod") -> list[ViewBinding]:
    """Every model of `source_environment` with a table to select from (not embedded), as
    the view SQLMesh names it in `target_environment` over its physical table, from
    SQLMesh's state. [] if the source does not exist."""
    env = ctx.state_reader.get_environment(source_environment)
    dialect = ctx.engine_adapter.dialect
    snapshots = [s for s in (env.snapshots if env else []) if s.is_model and not s.is_symbolic]
    return sorted((_binding(s, target_environment, dialect) for s in snapshots), key=lambda b: b.view)


def check_bindings(ctx: Any, bindings: list[ViewBinding], target_environment: str = "prod") -> None:
    """Raise UntrustedName unless every binding names a snapshot SQLMesh's state holds for
    one of the project's models (or a model `target_environment` holds or held before its
    last plan: one the deployment removed), and exactly that snapshot's view (named as in
    `target_environment`) and physical table."""
    from sqlmesh.core.snapshot import SnapshotId

    known = known_models(ctx, target_environment)
    for binding in bindings:
        _check_model(binding.model, known)
    found = ctx.state_reader.get_snapshots([SnapshotId(name=b.model, identifier=b.snapshot) for b in bindings])
    dialect = ctx.engine_adapter.dialect
    for binding in bindings:
        snapshot = found.get(SnapshotId(name=binding.model, identifier=binding.snapshot))
        if snapshot is None:
            raise UntrustedName(binding.snapshot, f"is no snapshot of {plain_name(binding.model)} in SQLMesh's state")
        expected = _binding(snapshot.table_info, target_environment, dialect)
        if binding.view != expected.view:
            raise UntrustedName(
                ".".join(binding.view),
                f"is not the {target_environment} view of {plain_name(binding.model)} ({'.'.join(expected.view)})",
            )
        if binding.physical != expected.physical:
            raise UntrustedName(
                ".".join(binding.physical),
                f"is not the table of {plain_name(binding.model)}'s snapshot {binding.snapshot} in SQLMesh's state ({'.'.join(expected.physical)})",
            )


def known_models(ctx: Any, environment: str) -> set[str]:
    """The project's models, and those SQLMesh's state has in `environment` now or had at
    its previous finalization (a model removed by the last deployment)."""
    env = ctx.state_reader.get_environment(environment)
    held = [*env.snapshots, *(env.previous_finalized_snapshots or [])] if env else []
    return set(ctx.models) | {s.name for s in held}


def promotable_plan(ctx: Any, source_environment: str, target_environment: str = "prod") -> Any | None:
    """The plan that makes `target_environment` equal to the validated `source_environment`,
    or None if it already is. Raises PromotionRefused if it would create a snapshot,
    backfill an interval, or the code differs from what was validated."""
    from sqlmesh.utils.errors import NoChangesPlanError

    from airflow_provider_dualengine.engines.sqlmesh.plans import environment_snapshot_ids, summarize_plan

    validated = environment_snapshot_ids(ctx, source_environment)
    if not validated:
        raise PromotionRefused(
            f"SQLMesh environment '{source_environment}' does not exist: plan and validate it before promoting"
        )
    try:
        # Tests ran when the source environment was validated; here only fingerprints matter.
        # Planned as of the source environment's end: an interval that completed since (a
        # deployment crossing midnight) is the next run's, not a backfill inside the swap.
        plan = ctx.plan(
            target_environment,
            no_prompts=True,
            auto_apply=False,
            skip_tests=True,
            execution_time=validated_until(ctx, source_environment),
        )
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
        raise PromotionRefused(
            f"code differs from what was validated in '{source_environment}' for: {', '.join(drift)}"
        )
    return plan


def validated_until(ctx: Any, environment: str) -> int | None:
    """The latest interval end (ms) among `environment`'s models other than seeds (whose
    interval is their load time): what was validated was computed as of then. None: no
    interval, plan as of now."""
    env = ctx.state_reader.get_environment(environment)
    if env is None:
        return None
    models = {s.name for s in env.snapshots if s.is_model and not s.is_seed}
    ends = ctx.state_reader.max_interval_end_per_model(environment, models=models) if models else {}
    return max(ends.values(), default=None)


def record_in_state(ctx: Any, plan: Any | None) -> None:
    """Apply the (view-swap only) plan so SQLMesh's state names the promoted snapshots."""
    if plan is None:
        return
    with ctx.engine_adapter.transaction():
        ctx.apply(plan)


def saved_environment(ctx: Any, name: str = "prod") -> list[list[str]] | None:
    """The environment's snapshots as [model, identifier] pairs, to restore after a
    rollback (None if the environment does not exist)."""
    env = ctx.state_reader.get_environment(name)
    return [[s.name, s.identifier] for s in env.snapshots] if env else None


def check_saved_environment(ctx: Any, saved: Any, name: str = "prod") -> list[Any]:
    """The snapshot ids of a saved environment, once each is known to SQLMesh's state and
    belongs to one of the project's models (see `known_models`); raises UntrustedName."""
    from sqlmesh.core.snapshot import SnapshotId

    if not isinstance(saved, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in saved
    ):
        raise UntrustedName(saved, "is not a list of [model, snapshot identifier] pairs")
    known = known_models(ctx, name)
    for model, _ in saved:
        _check_model(model, known)
    if len({model for model, _ in saved}) != len(saved):
        raise UntrustedName(saved, "names a model twice")
    ids = [SnapshotId(name=model, identifier=identifier) for model, identifier in saved]
    found = ctx.state_reader.get_snapshots(ids)
    missing = [sid for sid in ids if sid not in found]
    if missing:
        raise UntrustedName([missing[0].name, missing[0].identifier], "is no snapshot in SQLMesh's state")
    return ids


def restore_state(ctx: Any, saved: list[list[str]] | None, name: str = "prod") -> None:
    """Make SQLMesh's state name the saved snapshots again (the views were already restored
    by the caller). The environment record is the current one with the saved snapshots,
    each taken from state by id. With nothing saved, the environment is invalidated."""
    import uuid

    current = ctx.state_reader.get_environment(name)
    if saved is None:
        if current is not None and name != "prod":
            ctx.invalidate_environment(name, sync=True)
        return
    ids = check_saved_environment(ctx, saved, name)
    if current is None:
        raise PromotionRefused(
            f"SQLMesh's state has no environment '{name}' to restore the saved snapshots into; plan '{name}' with the previous code"
        )
    snapshots = ctx.state_reader.get_snapshots(ids)
    env = current.copy(
        update={
            "snapshots_": [snapshots[sid].table_info for sid in ids],
            "promoted_snapshot_ids_": None,
            "previous_finalized_snapshots_": current.snapshots,
            # SQLMesh refuses a record whose previous plan is not the current one (concurrent plans).
            "plan_id": uuid.uuid4().hex,
            "previous_plan_id": current.plan_id,
            "finalized_ts": None,
        }
    )
    ctx.state_sync.promote(env)
    ctx.state_sync.finalize(env)


def _check_model(model: Any, known: set[str]) -> None:
    if not isinstance(model, str) or model not in known:
        raise UntrustedName(model, "is not a SQLMesh model of this project")


def _binding(snapshot: Any, target_environment: str, dialect: str) -> ViewBinding:
    from sqlglot import exp
    from sqlmesh.core.environment import EnvironmentNamingInfo

    view = snapshot.qualified_view_name.table_for_environment(
        EnvironmentNamingInfo(name=target_environment), dialect=dialect
    )
    physical = exp.to_table(snapshot.table_name(), dialect=dialect)
    return ViewBinding(snapshot.name, snapshot.identifier, (view.db, view.name), (physical.db, physical.name))
