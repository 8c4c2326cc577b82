"""`dualengine contracts check|diff`: contract checks for CI, before deploy."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def check(args: argparse.Namespace) -> int:
    """Static check; exit 1 on any error (warnings alone pass)."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.static import check_project_contracts

    contracts, findings = check_project_contracts(load_project(args.project_dir))
    errors = [f for f in findings if f.severity == "error"]
    if args.json:
        print(
            json.dumps(
                {
                    "contracts": [c.model.name for c in contracts],
                    "findings": [f.to_dict() for f in findings],
                    "ok": not errors,
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            print(finding)
        print(f"{len(contracts)} contract(s): {len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    return 1 if errors else 0


def diff(args: argparse.Namespace) -> int:
    """Compare the project's contracts with a base version (e.g. main's shared/schemas)
    and/or with the prod relations as deployed; exit 1 when a breaking change comes
    without a major version bump, or prod does not deliver what a contract promises."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.evolution import diff_dirs

    if not (args.base or args.against_prod):
        print("error: dualengine contracts diff: give --base DIR, --against-prod, or both", file=sys.stderr)
        return 2
    project = load_project(args.project_dir)
    report = diff_dirs(Path(args.base), project.contracts_path) if args.base else None
    live = _against_prod(project) if args.against_prod else []
    blocking = bool(report and report.blocking) or any(c.blocking for c in live)
    if args.json:
        print(
            json.dumps(
                {**(report.to_dict() if report else {}), "live": [c.to_dict() for c in live], "blocking": blocking},
                indent=2,
            )
        )
    else:
        if report:
            print(report.summary())
        for change in live:
            print(change.render())
        if args.against_prod and not live:
            print("prod relations match their contracts")
    return 1 if blocking else 0


def _against_prod(project) -> list:
    """The deployed prod relations (through the warehouse's Airflow connection) against
    the project's contracts: what a deployment of these contracts would break."""
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
    from airflow_provider_dualengine.contracts.evolution import diff_live_schema
    from airflow_provider_dualengine.contracts.producers import contracted_producers
    from airflow_provider_dualengine.contracts.runtime import live_columns
    from airflow_provider_dualengine.graph import build_graph
    from airflow_provider_dualengine.graph.relations import model_relation
    from airflow_provider_dualengine.hooks.connections import get_connection
    from airflow_provider_dualengine.hooks.warehouse import open_warehouse

    prod = [name for name in project.environments if project.environment(name).sqlmesh_environment == "prod"]
    if not prod:
        raise DualEngineConfigError(
            [
                ConfigIssue(
                    project.files["environments"],
                    "environments",
                    "no environment maps to SQLMesh's prod",
                    'add one with environment_suffix: ""',
                )
            ]
        )
    contracts, issues = load_contracts(project.contracts_path)
    if issues:
        raise DualEngineConfigError(issues)
    graph = build_graph(project)
    targets = []
    for (engine, model), contract in contracted_producers(contracts, graph).items():
        relation = graph.models_graph.relation_of((engine, model))
        targets.append((contract, model_relation(project, engine, model, relation, prod[0])))
    conn = get_connection(project.settings.warehouse.conn_id)
    # Read-only and held only for the reads: a running pipeline task may need the DuckDB file.
    with open_warehouse(conn, read_only=True) as warehouse:
        live = [(contract, live_columns(warehouse, schema, table)) for contract, (schema, table) in targets]
        dialect = warehouse.dialect
    return [change for contract, columns in live for change in diff_live_schema(contract, columns, dialect)]


def add_parser(sub: argparse._SubParsersAction) -> None:
    contracts = sub.add_parser(
        "contracts", help="data contracts between the engines: static check, breaking-change diff"
    )
    actions = contracts.add_subparsers(dest="contracts_command", required=True)
    check_ = actions.add_parser(
        "check", help="contracts against the compiled projects (columns, types, producers, consumers)"
    )
    check_.add_argument("project_dir")
    check_.add_argument("--json", action="store_true")
    check_.set_defaults(func=check)
    diff_ = actions.add_parser("diff", help="breaking changes against a base version of the contracts folder")
    diff_.add_argument("project_dir")
    diff_.add_argument("--base", help="the contracts folder as deployed (e.g. a checkout of main's shared/schemas)")
    diff_.add_argument(
        "--against-prod",
        action="store_true",
        help="also compare with the prod relations in the warehouse (Airflow connection)",
    )
    diff_.add_argument("--json", action="store_true")
    diff_.set_defaults(func=diff)
