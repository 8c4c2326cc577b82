"""One deployment across both engines: start, promote, conclude (roll back), roll back by hand.

Used by the deploy DAG's operators and by the CLI. Prod changes only in `promote`, in one
warehouse transaction (deployments/promotion.py); everything before builds green (the
SQLMesh environment `<env>_green`, the idle dbt slot) and everything after either keeps
the new prod or swaps back to the layer saved when the deployment started.

Coordinated rollback follows one table (`ROLLBACK_PLAN`): a failure in the SQLMesh
deployment leaves SQLMesh's prod as it was (its views never moved; green is re-planned by
the next deployment); in the dbt deployment, dbt's idle slot is dropped; in integration
validation, both; in production promotion, prod returns to the
saved layer (both engines, SQLMesh state included) and the rollback is verified by
checksums.

What a deployment saved is read back only through deployments/saved.py, which checks every
name against the engines first; a record it refuses stops the rollback before anything
runs. Everything written to a record goes through the site's `writer`, which redacts the
warehouse connection's secrets from its text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.deployments import records, saved
from airflow_provider_dualengine.deployments.checksums import as_record, checksums
from airflow_provider_dualengine.deployments.plan import green_environment
from airflow_provider_dualengine.deployments.promotion import ProdLayer, swap
from airflow_provider_dualengine.deployments.saved import RecordRefused
from airflow_provider_dualengine.engines.dbt import blue_green
from airflow_provider_dualengine.engines.redact import connection_secrets, redact

FAILURE_POINTS = (
    "validation",
    "sqlmesh_deployment",
    "dbt_deployment",
    "integration_validation",
    "production_promotion",
)
ROLLBACK_PLAN: dict[str, tuple[str, ...]] = {
    "validation": (),  # nothing was built
    "sqlmesh_deployment": ("sqlmesh",),  # dbt never started
    "dbt_deployment": ("dbt",),  # SQLMesh's green environment stays valid
    "integration_validation": ("dbt", "sqlmesh"),
    "production_promotion": ("prod",),  # both engines back to the saved prod layer, then verified
}


class DeploymentBlocked(RuntimeError):
    """A deployment stopped; the message is the one line operators read first."""


@dataclass(frozen=True)
class DeploymentSite:
    """Where a project deploys: the warehouse, SQLMesh's prod and green environments, dbt's live schema."""

    project_dir: str
    environment: str
    conn_id: str
    dialect: str
    sqlmesh_path: str
    gateway: str | None
    sqlmesh_environment: str
    dbt_live_schema: str
    dbt_relations: tuple[str, ...]
    dbt_manifest: str

    @classmethod
    def of(cls, project_dir: str, environment: str | None = None) -> DeploymentSite:
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.deployments.plan import dbt_table
        from airflow_provider_dualengine.graph import Engine, build_graph

        project = load_project(project_dir)
        env = project.environment(environment)
        graph = build_graph(project)
        dbt = tuple(sorted(dbt_table(graph, name) for engine, name in graph.placement() if engine is Engine.DBT))
        warehouse = project.settings.warehouse
        return cls(
            str(project.root),
            env.name,
            warehouse.conn_id,
            warehouse.type,
            str(project.sqlmesh_path),
            env.sqlmesh_gateway,
            env.sqlmesh_environment,
            env.dbt_schema,
            dbt,
            str(project.dbt_manifest_path),
        )

    def dbt_manifest_digest(self) -> str:
        """Short hash of the dbt manifest being deployed (the dbt side's version)."""
        return _digest(Path(self.dbt_manifest).read_bytes())

    @property
    def green(self) -> str:
        return green_environment(self.sqlmesh_environment)

    def hook(self, dbt_schema: str | None = None) -> Any:
        from airflow_provider_dualengine.engines.sqlmesh.names import DBT_SCHEMA_ENV
        from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook

        return SQLMeshHook(
            self.sqlmesh_path,
            gateway=self.gateway,
            conn_id=self.conn_id,
            env={DBT_SCHEMA_ENV: dbt_schema or self.dbt_live_schema},
        )

    @cached_property
    def connection(self) -> Any:
        """The warehouse's Airflow connection (looked up once per site)."""
        from airflow_provider_dualengine.hooks.connections import get_connection

        return get_connection(self.conn_id)

    def redact(self, text: str) -> str:
        """`text` without the warehouse connection's secrets: for anything stored or handed on."""
        return redact(text, connection_secrets(self.connection))

    def writer(self, cursor: Any) -> records.RecordWriter:
        """The only way deployments write their records: text redacted of the connection's secrets."""
        return records.RecordWriter(cursor, self.dialect, connection_secrets(self.connection))

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        from airflow_provider_dualengine.engines.warehouse import warehouse_cursor

        with warehouse_cursor(self.connection) as cursor:
            if self.dialect == "postgres":
                # statement by statement; writes open their own transaction (warehouse.transaction)
                cursor.connection.autocommit = True
            yield cursor


def prod_layer(ctx: Any, cursor: Any, site: DeploymentSite) -> ProdLayer:
    """What prod points at now (SQLMesh state + the dbt slot state)."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import view_bindings

    state = blue_green.live_state(cursor, site.dialect, site.dbt_live_schema)
    views = tuple(view_bindings(ctx, site.sqlmesh_environment, site.sqlmesh_environment))
    return ProdLayer(
        views, site.dbt_live_schema, state["live_slot"] if state else None, tuple(state["relations"]) if state else ()
    )


def start(site: DeploymentSite, triggered_by: str, log: Any) -> dict[str, Any]:
    """Record a new deployment, settle any earlier one whose process died, choose the idle
    dbt slot and save prod as it is (layer, SQLMesh state, checksums) for rollback."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import saved_environment

    deployment_id = f"{site.environment}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with site.cursor() as cursor, site.hook().context() as ctx:
        writer = site.writer(cursor)
        for stale in records.running(cursor, site.dialect, site.environment):
            settle_interrupted(cursor, site, ctx, stale, log)
        before = prod_layer(ctx, cursor, site)
        slot = blue_green.idle_slot(cursor, site.dialect, site.dbt_live_schema)
        writer.start(deployment_id, site.environment, triggered_by, None, f"{slot}@{site.dbt_manifest_digest()}")
        sums = as_record(checksums(cursor, site.dialect, before.relations()))
        writer.update(
            deployment_id,
            format=saved.FORMAT,
            dbt_slot=slot,
            green_environment=site.green,
            before=before.as_dict(),
            sqlmesh_state_before=saved_environment(ctx, site.sqlmesh_environment),
            checksums_before=sums,
        )
    log.info(
        "Deployment %s of %s: SQLMesh builds into '%s', dbt into slot '%s'",
        deployment_id,
        site.environment,
        site.green,
        slot,
    )
    return {"deployment_id": deployment_id, "dbt_slot": slot}


def settle_interrupted(cursor: Any, site: DeploymentSite, ctx: Any, record: dict[str, Any], log: Any) -> None:
    """A deployment still 'running' when a new one starts died with its process. Our single
    transaction means prod is either the saved layer or the promoted one; say which. A
    record the engines do not confirm is closed as failed, unjudged (nothing from it runs;
    the new deployment saves prod from the engines, not from it)."""
    last = _last_stage(record)
    writer = site.writer(cursor)
    if isinstance(record["details"], dict) and not {"before", "format"} & set(record["details"]):
        writer.finish(
            record["id"],
            "interrupted",
            f"process stopped during {last}, before it saved prod's state; nothing of it was promoted",
        )
        return
    try:
        kept = saved.read(record, site, ctx, cursor)
    except RecordRefused as exc:
        log.error("Deployment %s was interrupted and is not settled: %s", record["id"], exc)
        writer.finish(record["id"], "failed", f"process stopped during {last}; not settled: {exc}")
        return
    if checksums(cursor, site.dialect, kept.before.relations()) == kept.checksums:
        outcome = "prod unchanged (checksums equal to before it started)"
    elif blue_green.live_slot(cursor, site.dialect, site.dbt_live_schema) == kept.dbt_slot:
        outcome = "its promotion had committed: prod is the promoted state"
    else:
        outcome = "prod differs from before it started and from its promotion: inspect `dualengine deployments`"
    summary = f"process stopped during {last}; {outcome}"
    log.warning("Deployment %s was interrupted: %s", record["id"], summary)
    writer.finish(record["id"], "interrupted", summary)


def promote(site: DeploymentSite, deployment_id: str, log: Any) -> dict[str, Any]:
    """Switch prod to green for both engines in one transaction, then let SQLMesh's state
    follow. Raises DeploymentBlocked; prod is fully old unless the commit happened."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import (
        PromotionRefused,
        promotable_plan,
        record_in_state,
        view_bindings,
    )

    with site.cursor() as cursor:
        record = records.get(cursor, site.dialect, deployment_id)
    with _refusal_blocks(site):
        slot = saved.dbt_slot(record["details"], site, deployment_id)
    with site.hook(dbt_schema=slot).context() as ctx:
        with site.cursor() as cursor, _refusal_blocks(site):
            before = saved.read(record, site, ctx, cursor).before
        try:
            plan = promotable_plan(ctx, site.green, site.sqlmesh_environment)
        except PromotionRefused as exc:
            raise DeploymentBlocked(f"SQLMesh promotion refused: {exc}") from exc
        target = ProdLayer(
            tuple(view_bindings(ctx, site.green, site.sqlmesh_environment)),
            site.dbt_live_schema,
            slot,
            site.dbt_relations,
        )
        started = datetime.now(UTC)
        with site.cursor() as cursor:
            site.writer(cursor).stage(
                deployment_id,
                "production_promotion",
                "started",
                started,
                started,
                f"{len(target.sqlmesh_views)} SQLMesh views + {len(target.dbt_relations)} dbt views",
            )
        try:
            window = swap(ctx.engine_adapter.cursor, site.dialect, target, before)
        except Exception as exc:
            raise DeploymentBlocked(f"promotion transaction failed and was rolled back, prod unchanged: {exc}") from exc
        with site.cursor() as cursor:
            writer = site.writer(cursor)
            version = _digest("\n".join(".".join(t) for t in target.physical_tables()).encode())
            writer.update(
                deployment_id, target=target.as_dict(), promotion_seconds=round(window, 4), sqlmesh_version=version
            )
            writer.stage(
                deployment_id,
                "production_promotion",
                "committed",
                started,
                datetime.now(UTC),
                f"prod switched in {window:.3f} s",
            )
        log.info(
            "Prod switched for both engines in one transaction: %.3f s (%d SQLMesh views, %d dbt views)",
            window,
            len(target.sqlmesh_views),
            len(target.dbt_relations),
        )
        record_in_state(ctx, plan)
    with site.cursor() as cursor:
        site.writer(cursor).update(
            deployment_id, checksums_after=as_record(checksums(cursor, site.dialect, target.relations()))
        )
    return {
        "promotion_seconds": round(window, 4),
        "sqlmesh_views": len(target.sqlmesh_views),
        "dbt_views": len(target.dbt_relations),
    }


def conclude(site: DeploymentSite, deployment_id: str, failure_point: str | None, reason: str, log: Any) -> str:
    """Finish the record; on failure run the rollback for `failure_point` and verify
    prod equals what it was before. Returns the one-line summary. A record the engines do
    not confirm is closed as failed and DeploymentBlocked raised, nothing from it run."""
    with site.cursor() as cursor:
        writer = site.writer(cursor)
        record = records.get(cursor, site.dialect, deployment_id)
        if failure_point is None:
            details = record["details"] if isinstance(record["details"], dict) else {}
            summary = writer.finish(
                deployment_id,
                "succeeded",
                f"succeeded: prod switched in {saved.number(details.get('promotion_seconds')) or 0.0:.3f} s",
            )
            return summary
        actions = ROLLBACK_PLAN[failure_point]
        with site.hook().context() as ctx:
            try:
                kept = saved.read(
                    record, site, ctx, cursor, restore="prod" in actions and "target" in record["details"]
                )
            except RecordRefused as exc:
                summary = writer.finish(deployment_id, "failed", f"blocked at {failure_point}: {reason}; {exc}")
                log.error("%s", summary)
                raise DeploymentBlocked(site.redact(str(exc))) from None
            undone = _roll_back(cursor, site, ctx, kept, actions)
        intact = checksums(cursor, site.dialect, kept.before.relations()) == kept.checksums
        verdict = "prod verified identical to before (checksums)" if intact else "PROD DIFFERS FROM BEFORE: inspect now"
        summary = writer.finish(
            deployment_id,
            "rolled_back" if intact else "failed",
            f"blocked at {failure_point}: {reason}; {'; '.join(undone) or 'nothing to undo'}; {verdict}",
        )
    log.error("%s", summary)
    return summary


def _roll_back(cursor: Any, site: DeploymentSite, ctx: Any, kept: saved.Saved, actions: tuple[str, ...]) -> list[str]:
    """The rollback actions, on checked names only; what was undone, for the summary."""
    undone = []
    for action in actions:
        if action == "dbt":
            blue_green.drop_slot(cursor, site.dialect, site.dbt_live_schema, kept.dbt_slot)
            undone.append(f"dbt slot {kept.dbt_slot} dropped")
        elif action == "sqlmesh":
            # SQLMesh's prod views never moved. The green environment is kept, not
            # invalidated: the next deployment re-plans it (a plan with selected models
            # into a freshly invalidated environment would leave unselected models out).
            undone.append(f"SQLMesh prod untouched, {site.green} left for the next deployment to re-plan")
        elif action == "prod" and kept.target is not None:
            restore_prod(cursor, site, ctx, kept)
            undone.append("prod swapped back to the previous layer, SQLMesh state restored")
    return undone


def restore_prod(cursor: Any, site: DeploymentSite, ctx: Any, kept: saved.Saved) -> float:
    """Swap prod back to the (checked) layer saved before a deployment and restore SQLMesh's state."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import restore_state

    window = swap(cursor, site.dialect, kept.before, kept.target)
    restore_state(ctx, kept.sqlmesh_state, site.sqlmesh_environment)
    return window


def rollback_last(site: DeploymentSite, triggered_by: str) -> dict[str, Any]:
    """Manual rollback: return both engines to the state before the last successful
    deployment, verify by checksums, and mark that deployment rolled back."""
    with site.cursor() as cursor:
        last = records.last_succeeded(cursor, site.dialect, site.environment)
        if last is None:
            raise DeploymentBlocked(f"no successful deployment of '{site.environment}' to roll back")
        with site.hook().context() as ctx:
            with _refusal_blocks(site):
                kept = saved.read(last, site, ctx, cursor, restore=True)
            if not kept.before.relations():
                raise DeploymentBlocked(
                    f"deployment {last['id']} was the first of '{site.environment}': there is no earlier prod to return to"
                )
            window = restore_prod(cursor, site, ctx, kept)
        intact = checksums(cursor, site.dialect, kept.before.relations()) == kept.checksums
        summary = f"rolled back by {triggered_by} in {window:.3f} s; " + (
            "prod verified identical to before it (checksums)" if intact else "PROD DIFFERS FROM BEFORE IT: inspect now"
        )
        summary = site.writer(cursor).finish(last["id"], "rolled_back", summary)
    if not intact:
        raise DeploymentBlocked(summary)
    return {"deployment_id": last["id"], "rollback_seconds": round(window, 4), "summary": summary}


@contextmanager
def _refusal_blocks(site: DeploymentSite) -> Iterator[None]:
    """A refused record stops the deployment step with the refusal as its one line."""
    try:
        yield
    except RecordRefused as exc:
        raise DeploymentBlocked(site.redact(str(exc))) from None


def _last_stage(record: dict[str, Any]) -> str:
    stages = record.get("stages")
    last = stages[-1] if isinstance(stages, list) and stages else None
    return str(last.get("stage", "?")) if isinstance(last, dict) else "start"


def _digest(data: bytes) -> str:
    """A short, stable version string: the SQLMesh side hashes the physical snapshot tables
    prod points at (one per model fingerprint), the dbt side its manifest."""
    import hashlib

    return hashlib.sha256(data).hexdigest()[:12]
