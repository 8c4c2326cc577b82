"""`dualengine deployments` and `dualengine rollback`: the deployment records and a manual
rollback of both engines, through the project's Airflow warehouse connection.

`deployments` only reads: it opens the warehouse read-only and closes it as soon as the
records are read, so on DuckDB it neither fails a running pipeline task that needs the file
nor creates the records table. `rollback` writes and waits for the file like any writer
(hooks/warehouse.py)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any


def list_(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.deployments.coordinator import DeploymentSite

    site = DeploymentSite.of(args.project_dir, args.environment)
    found = [
        r
        for r in _read_deployments(site.connection, args.limit)
        if args.all_environments or r["environment"] == site.environment
    ]
    if args.json:
        print(json.dumps(found, indent=2, default=str))
        return 0
    if not found:
        print(f"no deployments of '{site.environment}' recorded yet")
    for record in found:
        stages = ", ".join(f"{s['stage']}={s['outcome']}" for s in record["stages"])
        print(
            f"{record['id']}  {record['status']:<12} {record['started_at']:%Y-%m-%d %H:%M:%S}  by {record['triggered_by']}  sqlmesh {record['sqlmesh_version'] or '-'}  dbt {record['dbt_version'] or '-'}"
        )
        if stages:
            print(f"    stages: {stages}")
        if record["details"].get("summary"):
            print(f"    {record['details']['summary']}")
    return 0


def _read_deployments(connection: Any, limit: int) -> list[dict[str, Any]]:
    """The latest records, read in a read-only session held only while reading; none when
    no deployment has created the records table yet."""
    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.hooks.warehouse import open_warehouse

    with open_warehouse(connection, autocommit=True, read_only=True) as warehouse:
        return records.read_deployments(warehouse, limit)


def rollback(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, DeploymentSite, rollback_last

    site = DeploymentSite.of(args.project_dir, args.environment)
    try:
        result = rollback_last(site, f"cli:{getpass.getuser()}")
    except DeploymentBlocked as exc:
        print(f"error: rollback refused: {exc}", file=sys.stderr)
        return 1
    print(f"{result['deployment_id']}: {result['summary']}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    deployments = sub.add_parser("deployments", help="deployment records of an environment, newest first")
    deployments.add_argument("project_dir", nargs="?", default=".")
    deployments.add_argument("--environment", "-e")
    deployments.add_argument("--limit", type=int, default=20)
    deployments.add_argument("--all-environments", action="store_true")
    deployments.add_argument("--json", action="store_true")
    deployments.set_defaults(func=list_)

    back = sub.add_parser("rollback", help="return both engines to the state before the last successful deployment")
    back.add_argument("project_dir", nargs="?", default=".")
    back.add_argument("--environment", "-e")
    back.set_defaults(func=rollback)
