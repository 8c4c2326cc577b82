"""`dualengine resources show|apply`: each engine's effective allocation (pool and slots,
window, priority, threads, session settings), and the cluster's pools brought to it
through Airflow's REST API."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

PASSWORD_ENV = "DUALENGINE_API_PASSWORD"
TOKEN_ENV = "DUALENGINE_API_TOKEN"


def moment_argument(text: str) -> datetime:
    """argparse type of `--at`: an ISO 8601 time, UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date and time: write ISO 8601, e.g. 2026-12-01T09:00+01:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def show(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.config.resources import load_resources, resources_file
    from airflow_provider_dualengine.resources.allocation import allocations
    from airflow_provider_dualengine.resources.pools import environments_with_allocation

    project = load_project(args.project_dir)
    spec = load_resources(project)
    moment = args.at or datetime.now(UTC)
    environments = [args.environment] if args.environment else environments_with_allocation(project, spec)
    if args.environment:
        project.environment(args.environment)  # an unknown name is a clear error
    document = {
        "project": project.settings.name,
        "file": str(resources_file(project)) if resources_file(project).exists() else None,
        "at": moment.astimezone(UTC).isoformat(),
        "window": spec.execution_schedule.window_at(moment).name if spec.execution_schedule else None,
        "writer_pool": project.settings.warehouse.writer_pool,
        "environments": {
            e: {k: asdict(v) for k, v in allocations(project, e, moment, spec).items()} for e in environments
        },
    }
    print(json.dumps(document, indent=2) if args.json else _table(document))
    return 0


def _table(document: dict[str, Any]) -> str:
    if document["file"] is None:
        return f"{document['project']}: no config/resources.yml - engines share Airflow's default pool" + (
            f" (writers: the one-slot pool '{document['writer_pool']}')" if document["writer_pool"] else ""
        )
    lines = [
        f"{document['project']} at {document['at'][:19]} UTC, window {document['window'] or '-'} ({document['file']})"
    ]
    if document["writer_pool"]:
        lines.append(
            f"  DuckDB: every writer of both engines queues in the one-slot pool '{document['writer_pool']}'; engine pools do not apply"
        )
    lines.append(
        f"  {'environment':<13} {'engine':<8} {'pool':<40} {'slots':>5}  {'execution':<16} {'prio':>4}  threads  session"
    )
    for environment, engines in document["environments"].items():
        for engine, a in engines.items():
            threads = a["threads"] or a["concurrent_tasks"] or "-"
            session = ", ".join(f"{k}={v}" for k, v in a["session"].items()) or "-"
            lines.append(
                f"  {environment:<13} {engine:<8} {a['pool'] or '-':<40} {a['slots'] if a['slots'] is not None else '-':>5}  {a['execution']:<16} {'+' + str(a['priority_boost']) if a['priority_boost'] else '':>4}  {threads!s:<7}  {session}"
            )
            if a["slots_source"]:
                lines.append(f"  {'':<13} {'':<8} slots: {a['slots_source']}")
    return "\n".join(lines)


def apply(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.hooks.airflow_api import AirflowApiHook
    from airflow_provider_dualengine.resources.pools import apply_pools, desired_pools

    project = load_project(args.project_dir)
    if args.airflow_cli:
        hook: Any = _AirflowCliPools()
    elif args.api_url:
        hook = AirflowApiHook(
            base_url=args.api_url.rstrip("/"),
            username=args.username,
            password=os.environ.get(PASSWORD_ENV),
            token=os.environ.get(TOKEN_ENV),
        )
    else:
        hook = AirflowApiHook(args.conn_id)
    environments = [args.environment] if args.environment else None
    if args.environment:
        project.environment(args.environment)
    changes = apply_pools(hook, desired_pools(project, datetime.now(UTC), environments), dry_run=args.dry_run)
    if not changes:
        print(f"{project.settings.name}: no engine pool to apply (no allocation, or DuckDB's one writer pool only)")
    for change in changes:
        was = f" (was {change.previous})" if change.previous is not None and change.previous != change.slots else ""
        print(f"{change.pool}: {change.slots} slots - {change.outcome}{was}")
    return 0


class _AirflowCliPools:
    """Pools through Airflow's own CLI (`airflow pools list|set`), argument lists only."""

    def pool(self, name: str) -> dict[str, Any] | None:
        import subprocess

        out = subprocess.run(
            ["airflow", "pools", "list", "--output", "json"], capture_output=True, text=True, check=True
        )
        found = {p["pool"]: p for p in json.loads(out.stdout or "[]")}.get(name)
        if found is None:
            return None
        deferred = str(found.get("include_deferred", "")).lower() == "true"
        return {"slots": int(found["slots"]), "description": found.get("description"), "include_deferred": deferred}

    def upsert_pool(self, name: str, slots: int, description: str, existing: dict[str, Any] | None = None) -> str:
        import subprocess

        if existing is not None and existing.get("slots") == slots and existing.get("description") == description:
            return "unchanged"
        keep_deferred = ["--include-deferred"] if existing and existing.get("include_deferred") else []
        subprocess.run(
            ["airflow", "pools", "set", name, str(slots), description, *keep_deferred],
            capture_output=True,
            text=True,
            check=True,
        )
        return "updated" if existing is not None else "created"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    resources = sub.add_parser("resources", help="each engine's pool, slots, window and session settings")
    actions = resources.add_subparsers(dest="resources_command", required=True)
    shown = actions.add_parser("show", help="print the effective allocation (now, or --at a moment)")
    shown.add_argument("project_dir", nargs="?", default=None, help="project folder (default: $DUALENGINE_PROJECT_DIR)")
    shown.add_argument("--environment", "-e", default=None, help="one environment (default: every one allocated)")
    shown.add_argument(
        "--at", type=moment_argument, default=None, help="an ISO time (UTC unless it says otherwise) instead of now"
    )
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(func=show)
    applied = actions.add_parser("apply", help="create/resize the engine pools in a running Airflow (REST API)")
    applied.add_argument(
        "project_dir", nargs="?", default=None, help="project folder (default: $DUALENGINE_PROJECT_DIR)"
    )
    applied.add_argument("--environment", "-e", default=None)
    applied.add_argument(
        "--conn-id", default="dualengine_airflow_api", help="Airflow http connection of the API (host, login, password)"
    )
    applied.add_argument(
        "--api-url",
        default=None,
        help=f"the api-server URL instead of a connection; password in ${PASSWORD_ENV} (or token in ${TOKEN_ENV})",
    )
    applied.add_argument("--username", default=None, help="with --api-url")
    applied.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    applied.add_argument(
        "--airflow-cli",
        action="store_true",
        help="use `airflow pools` on this machine's metadata DB instead of the REST API (an init container before the api-server runs)",
    )
    applied.set_defaults(func=apply)
