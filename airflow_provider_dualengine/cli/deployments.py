"""`dualengine deployments` and `dualengine rollback`: the deployment records and a manual
rollback of both engines, through the project's Airflow warehouse connection."""

from __future__ import annotations

import argparse
import getpass
import json
import sys


def list_(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.deployments.coordinator import DeploymentSite

    site = DeploymentSite.of(args.project_dir, args.environment)
    with site.warehouse() as warehouse:
        found = [
            r
            for r in records.list_deployments(warehouse, args.limit)
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
