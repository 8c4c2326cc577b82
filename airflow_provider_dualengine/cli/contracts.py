"""`dualengine contracts check|diff`: contract checks for CI, before deploy."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def check(args: argparse.Namespace) -> int:
    """Static check; exit 1 on any error (warnings alone pass)."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.static import check_project_contracts

    contracts, findings = check_project_contracts(load_project(args.project_dir))
    errors = [f for f in findings if f.severity == "error"]
    if args.json:
        print(json.dumps({"contracts": [c.model.name for c in contracts], "findings": [f.to_dict() for f in findings], "ok": not errors}, indent=2))
    else:
        for finding in findings:
            print(finding)
        print(f"{len(contracts)} contract(s): {len(errors)} error(s), {len(findings) - len(errors)} warning(s)")
    return 1 if errors else 0


def diff(args: argparse.Namespace) -> int:
    """Compare the project's contracts with a base version (e.g. main's shared/schemas);
    exit 1 when a breaking change comes without a major version bump."""
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.evolution import diff_dirs

    project = load_project(args.project_dir)
    report = diff_dirs(Path(args.base), project.contracts_path)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.summary())
    return 1 if report.blocking else 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    contracts = sub.add_parser("contracts", help="data contracts between the engines: static check, breaking-change diff")
    actions = contracts.add_subparsers(dest="contracts_command", required=True)
    check_ = actions.add_parser("check", help="contracts against the compiled projects (columns, types, producers, consumers)")
    check_.add_argument("project_dir")
    check_.add_argument("--json", action="store_true")
    check_.set_defaults(func=check)
    diff_ = actions.add_parser("diff", help="breaking changes against a base version of the contracts folder")
    diff_.add_argument("project_dir")
    diff_.add_argument("--base", required=True, help="the contracts folder as deployed (e.g. a checkout of main's shared/schemas)")
    diff_.add_argument("--json", action="store_true")
    diff_.set_defaults(func=diff)
