"""One deployment across both engines: start, promote, conclude (roll back), roll back by hand.

Used by the deploy DAG's operators and by the CLI. Prod changes only in `promote`, in one
warehouse transaction (deployments/promotion.py); everything before builds green (the
SQLMesh environment `<env>_green`, the idle dbt slot) and everything after either keeps
the new prod or swaps back to the layer saved when the deployment started.

A failed deployment is rolled back by a plan (deployments/rollback.py): built from the
failure point and the record, written into the record, then applied and verified by
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
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.deployments import dbt_slots, lease, records, saved
from airflow_provider_dualengine.deployments.checksums import as_record, checksums
from airflow_provider_dualengine.deployments.failure_points import FailurePoint
from airflow_provider_dualengine.deployments.green_relations import green_environment
from airflow_provider_dualengine.deployments.integration import Finding, Thresholds, duration_finding, validate
from airflow_provider_dualengine.deployments.promotion import ProdLayer, swap
from airflow_provider_dualengine.deployments.rollback import apply_rollback, plan_rollback, restore_prod
from airflow_provider_dualengine.deployments.saved import RecordRefused
from airflow_provider_dualengine.engines.redact import connection_secrets, redact
from airflow_provider_dualengine.hooks.warehouse import Warehouse


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
        from airflow_provider_dualengine.deployments.green_relations import dbt_table_of
        from airflow_provider_dualengine.graph import Engine, build_graph

        project = load_project(project_dir)
        env = project.environment(environment)
        graph = build_graph(project)
        dbt = tuple(sorted(dbt_table_of(graph, name) for engine, name in graph.placement() if engine is Engine.DBT))
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

    def writer(self, warehouse: Warehouse) -> records.RecordWriter:
        """The only way deployments write their records: text redacted of the connection's secrets."""
        return records.RecordWriter(warehouse, connection_secrets(self.connection))

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """A session on the site's warehouse; on PostgreSQL statement by statement, writes
        opening their own transaction (`Warehouse.transaction`)."""
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        with WarehouseHook(self.conn_id, connection=self.connection).session(autocommit=True) as warehouse:
            yield warehouse


def prod_layer(ctx: Any, warehouse: Warehouse, site: DeploymentSite) -> ProdLayer:
    """What prod points at now (SQLMesh state + the dbt slot state)."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import view_bindings

    state = dbt_slots.live_state(warehouse, site.dbt_live_schema)
    views = tuple(view_bindings(ctx, site.sqlmesh_environment, site.sqlmesh_environment))
    return ProdLayer(
        views, site.dbt_live_schema, state["live_slot"] if state else None, tuple(state["relations"]) if state else ()
    )


def start(
    site: DeploymentSite,
    triggered_by: str,
    log: Any,
    owner: str | None = None,
    lease_ttl: timedelta = lease.DEFAULT_TTL,
) -> dict[str, Any]:
    """Take the environment's deployment lease, settle earlier deployments whose lease
    expired (their process died), record a new deployment, choose the idle dbt slot and
    save prod as it is (layer, SQLMesh state, checksums) for rollback. Raises
    DeploymentInProgress, before changing anything, while another deployment holds the lease."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import saved_environment

    deployment_id = f"{site.environment}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with site.warehouse() as warehouse:
        expired = lease.acquire(warehouse, site.environment, deployment_id, owner or triggered_by, lease_ttl)
    if expired is not None:
        log.warning("The lease of deployment %s expired: taken over", expired.describe())
    try:
        with site.warehouse() as warehouse, site.hook().context() as ctx:
            writer = site.writer(warehouse)
            # Only a deployment whose lease expired can still be 'running' now: it died.
            for stale in records.running(warehouse, site.environment):
                settle_interrupted(warehouse, site, ctx, stale, log)
            before = prod_layer(ctx, warehouse, site)
            slot = dbt_slots.idle_slot(warehouse, site.dbt_live_schema)
            writer.start(deployment_id, site.environment, triggered_by, None, f"{slot}@{site.dbt_manifest_digest()}")
            sums = as_record(checksums(warehouse, before.relations()))
            writer.update(
                deployment_id,
                format=saved.FORMAT,
                dbt_slot=slot,
                green_environment=site.green,
                before=before.as_dict(),
                sqlmesh_state_before=saved_environment(ctx, site.sqlmesh_environment),
                checksums_before=sums,
                lease={"owner": owner or triggered_by, "ttl_s": lease_ttl.total_seconds()},
            )
    except BaseException:
        with site.warehouse() as warehouse:  # nothing started: the next deployment need not wait
            if not records.exists(warehouse, deployment_id):
                lease.release(warehouse, site.environment, deployment_id)
        raise
    log.info(
        "Deployment %s of %s: SQLMesh builds into '%s', dbt into slot '%s'",
        deployment_id,
        site.environment,
        site.green,
        slot,
    )
    return {"deployment_id": deployment_id, "dbt_slot": slot}


_CONCLUDE_TTL = timedelta(minutes=30)


def _still_holds_lease(warehouse: Warehouse, site: DeploymentSite, record: dict[str, Any]) -> None:
    """Before prod changes: the lease must still be this deployment's (renewed for its
    TTL). Airflow only logs a failing task callback, so the renewal there cannot stop a
    deployment whose lease another one took over; this does."""
    details = record["details"] if isinstance(record["details"], dict) else {}
    ttl_s = (details.get("lease") or {}).get("ttl_s") or lease.DEFAULT_TTL.total_seconds()
    try:
        lease.renew(warehouse, site.environment, record["id"], timedelta(seconds=float(ttl_s)))
    except lease.LeaseLost as exc:
        raise DeploymentBlocked(f"{exc}; prod not touched") from None


def renew_lease(site: DeploymentSite, deployment_id: str, lease_ttl: timedelta = lease.DEFAULT_TTL) -> datetime:
    """Keep the deployment's lease alive (each deploy task calls this when it starts);
    DeploymentBlocked when it expired and another deployment took it over."""
    with site.warehouse() as warehouse:
        try:
            return lease.renew(warehouse, site.environment, deployment_id, lease_ttl)
        except lease.LeaseLost as exc:
            raise DeploymentBlocked(str(exc)) from None


def settle_interrupted(warehouse: Warehouse, site: DeploymentSite, ctx: Any, record: dict[str, Any], log: Any) -> None:
    """A deployment still 'running' when a new one starts died with its process. Our single
    transaction means prod is either the saved layer or the promoted one; say which. A
    record the engines do not confirm is closed as failed, unjudged (nothing from it runs;
    the new deployment saves prod from the engines, not from it)."""
    last = _last_stage(record)
    writer = site.writer(warehouse)
    if isinstance(record["details"], dict) and not {"before", "format"} & set(record["details"]):
        writer.finish(
            record["id"],
            "interrupted",
            f"process stopped during {last}, before it saved prod's state; nothing of it was promoted",
        )
        return
    try:
        kept = saved.read(record, site, ctx, warehouse)
    except RecordRefused as exc:
        log.error("Deployment %s was interrupted and is not settled: %s", record["id"], exc)
        writer.finish(record["id"], "failed", f"process stopped during {last}; not settled: {exc}")
        return
    if checksums(warehouse, kept.before.relations()) == kept.checksums:
        outcome = "prod unchanged (checksums equal to before it started)"
    elif dbt_slots.live_slot(warehouse, site.dbt_live_schema) == kept.dbt_slot:
        outcome = "its promotion had committed: prod is the promoted state"
    else:
        outcome = "prod differs from before it started and from its promotion: inspect `dualengine deployments`"
    summary = f"process stopped during {last}; {outcome}"
    log.warning("Deployment %s was interrupted: %s", record["id"], summary)
    writer.finish(record["id"], "interrupted", summary)


def validate_integration(site: DeploymentSite, deployment_id: str, limits: Thresholds) -> list[Finding]:
    """Green against prod (deployments/integration.py) plus the build time against the
    previous deployment's; every finding goes into the record, the failed ones into the
    stage's message. Raises RecordRefused if the record's dbt slot is not one of ours."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.deployments.green_relations import deployed_models
    from airflow_provider_dualengine.graph import build_graph

    graph = build_graph(load_project(site.project_dir))
    started = datetime.now(UTC)
    with site.warehouse() as warehouse:
        record = records.get(warehouse, deployment_id)
        slot = saved.dbt_slot(record["details"], site, deployment_id)
        models = deployed_models(graph, site.sqlmesh_environment, site.dbt_live_schema, slot)
        edges = [(e.upstream[1], e.downstream[1]) for e in graph.models_graph.cross_engine_edges()]
        findings = validate(warehouse, models, edges, limits)
        staging_s = (started - record["started_at"]).total_seconds()
        previous = records.last_succeeded(warehouse, site.environment)
        findings.append(
            duration_finding(
                staging_s, saved.number(((previous or {}).get("details") or {}).get("staging_seconds")), limits
            )
        )
        failed = [f for f in findings if not f.passed]
        writer = site.writer(warehouse)
        writer.update(deployment_id, staging_seconds=round(staging_s, 1), integration=[f.as_dict() for f in findings])
        writer.stage(
            deployment_id,
            "integration_validation",
            "failed" if failed else "passed",
            started,
            datetime.now(UTC),
            "; ".join(f"{f.model}: {f.message}" for f in failed),
        )
    return findings


def promote(site: DeploymentSite, deployment_id: str, log: Any) -> dict[str, Any]:
    """Switch prod to green for both engines in one transaction, then let SQLMesh's state
    follow. Raises DeploymentBlocked; prod is fully old unless the commit happened."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import (
        PromotionRefused,
        promotable_plan,
        record_in_state,
        view_bindings,
    )

    with site.warehouse() as warehouse:
        record = records.get(warehouse, deployment_id)
        _still_holds_lease(warehouse, site, record)
    with _refusal_blocks(site):
        slot = saved.dbt_slot(record["details"], site, deployment_id)
    with site.hook(dbt_schema=slot).context() as ctx:
        with site.warehouse() as warehouse, _refusal_blocks(site):
            before = saved.read(record, site, ctx, warehouse).before
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
        with site.warehouse() as warehouse:
            site.writer(warehouse).stage(
                deployment_id,
                "production_promotion",
                "started",
                started,
                started,
                f"{len(target.sqlmesh_views)} SQLMesh views + {len(target.dbt_relations)} dbt views",
            )
        try:
            # on the connection SQLMesh already holds open
            window = swap(Warehouse(ctx.engine_adapter.cursor, site.dialect), target, before)
        except Exception as exc:
            raise DeploymentBlocked(f"promotion transaction failed and was rolled back, prod unchanged: {exc}") from exc
        with site.warehouse() as warehouse:
            writer = site.writer(warehouse)
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
    with site.warehouse() as warehouse:
        site.writer(warehouse).update(
            deployment_id, checksums_after=as_record(checksums(warehouse, target.relations()))
        )
    return {
        "promotion_seconds": round(window, 4),
        "sqlmesh_views": len(target.sqlmesh_views),
        "dbt_views": len(target.dbt_relations),
    }


def conclude(
    site: DeploymentSite, deployment_id: str, failure_point: FailurePoint | str | None, reason: str, log: Any
) -> str:
    """Finish the record; on failure plan the rollback for `failure_point`, record the plan,
    apply it and verify prod equals what it was before. Returns the one-line summary. A
    record the engines do not confirm is closed as failed and DeploymentBlocked raised,
    nothing from it run."""
    with site.warehouse() as warehouse:
        writer = site.writer(warehouse)
        record = records.get(warehouse, deployment_id)
        if record["status"] != "running":  # its lease expired and the next deployment settled it
            raise DeploymentBlocked(
                f"deployment {deployment_id} was already concluded as {record['status']} by another deployment"
                f" (its lease had expired): {record['details'].get('summary', '')}; prod was not touched by this conclusion"
            )
        try:  # still ours, or free again: conclude under it; held by another: hands off
            lease.acquire(warehouse, site.environment, deployment_id, f"conclusion of {deployment_id}", _CONCLUDE_TTL)
        except lease.DeploymentInProgress as exc:
            raise DeploymentBlocked(f"deployment {deployment_id} cannot conclude, prod not touched: {exc}") from None
        try:
            return _conclude(site, warehouse, writer, record, failure_point, reason, log)
        finally:
            lease.release(warehouse, site.environment, deployment_id)


def _conclude(
    site: DeploymentSite,
    warehouse: Warehouse,
    writer: records.RecordWriter,
    record: dict[str, Any],
    failure_point: FailurePoint | str | None,
    reason: str,
    log: Any,
) -> str:
    deployment_id = record["id"]
    if failure_point is None:
        details = record["details"] if isinstance(record["details"], dict) else {}
        summary = writer.finish(
            deployment_id,
            "succeeded",
            f"succeeded: prod switched in {saved.number(details.get('promotion_seconds')) or 0.0:.3f} s",
        )
        return summary
    plan = plan_rollback(failure_point, record, site.green)
    with site.hook().context() as ctx:
        try:
            kept = saved.read(record, site, ctx, warehouse, restore=plan.restores_prod)
        except RecordRefused as exc:
            summary = writer.finish(deployment_id, "failed", f"blocked at {plan.failure_point}: {reason}; {exc}")
            log.error("%s", summary)
            raise DeploymentBlocked(site.redact(str(exc))) from None
        writer.update(deployment_id, rollback=plan.as_dict())
        undone = apply_rollback(plan, warehouse, site, ctx, kept)
    intact = checksums(warehouse, kept.before.relations()) == kept.checksums
    verdict = "prod verified identical to before (checksums)" if intact else "PROD DIFFERS FROM BEFORE: inspect now"
    summary = writer.finish(
        deployment_id,
        "rolled_back" if intact else "failed",
        f"blocked at {plan.failure_point}: {reason}; {'; '.join(undone) or 'nothing to undo'}; {verdict}",
    )
    log.error("%s", summary)
    return summary


def rollback_last(site: DeploymentSite, triggered_by: str) -> dict[str, Any]:
    """Manual rollback: return both engines to the state before the last successful
    deployment, verify by checksums, and mark that deployment rolled back. Holds the
    environment's deployment lease meanwhile (refused while a deployment runs)."""
    holder = f"rollback-{site.environment}-{uuid.uuid4().hex[:6]}"
    with site.warehouse() as warehouse:
        try:
            lease.acquire(warehouse, site.environment, holder, triggered_by, timedelta(minutes=30))
        except lease.DeploymentInProgress as exc:
            raise DeploymentBlocked(str(exc).replace("this one did not start", "the rollback did not start")) from None
        try:
            return _rollback_last(site, warehouse, triggered_by)
        finally:
            lease.release(warehouse, site.environment, holder)


def _rollback_last(site: DeploymentSite, warehouse: Warehouse, triggered_by: str) -> dict[str, Any]:
    last = records.last_succeeded(warehouse, site.environment)
    if last is None:
        raise DeploymentBlocked(f"no successful deployment of '{site.environment}' to roll back")
    with site.hook().context() as ctx:
        with _refusal_blocks(site):
            kept = saved.read(last, site, ctx, warehouse, restore=True)
        if not kept.before.relations():
            raise DeploymentBlocked(
                f"deployment {last['id']} was the first of '{site.environment}': there is no earlier prod to return to"
            )
        window = restore_prod(warehouse, site, ctx, kept)
    intact = checksums(warehouse, kept.before.relations()) == kept.checksums
    summary = f"rolled back by {triggered_by} in {window:.3f} s; " + (
        "prod verified identical to before it (checksums)" if intact else "PROD DIFFERS FROM BEFORE IT: inspect now"
    )
    summary = site.writer(warehouse).finish(last["id"], "rolled_back", summary)
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
