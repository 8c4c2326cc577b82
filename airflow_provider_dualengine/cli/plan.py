"""`dualengine plan`: the execution plan of a project's environment across both engines
(resources/plan.py): order by stage and model, each step's allocation, estimated seconds
and cost per model with the source of each estimate, the critical path and the total.

It only reads: the run history through the project's warehouse connection, read-only, the
way `dualengine metrics` does. A warehouse that cannot be read is no error: the estimates
say "no history (warehouse unreadable: ...)"."""

from __future__ import annotations

import argparse
import json
import sys

from airflow_provider_dualengine.cli.monitoring import days_argument
from airflow_provider_dualengine.cli.resources import moment_argument


def plan(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.graph.names import UnknownModel
    from airflow_provider_dualengine.resources.plan import load_plan, render_plan

    try:
        document = load_plan(args.project_dir, args.environment, models=args.models, days=args.days, moment=args.at)
    except UnknownModel as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(document, indent=2) if args.json else render_plan(document))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from airflow_provider_dualengine.resources.plan import HISTORY_DAYS

    found = sub.add_parser(
        "plan", help="execution order, allocation, estimated duration and cost across both engines (from run history)"
    )
    found.add_argument("project_dir", nargs="?", default=".")
    found.add_argument("--environment", "-e", help="the environment to plan (default: the project's default)")
    found.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="only these models and everything downstream of them (e.g. staging.stg_orders, dbt:customer_value)",
    )
    found.add_argument(
        "--days",
        type=days_argument,
        default=HISTORY_DAYS,
        help=f"run history of the last N days (default {HISTORY_DAYS})",
    )
    found.add_argument(
        "--at", type=moment_argument, help="allocations at this moment (ISO 8601; default now; without a zone: UTC)"
    )
    found.add_argument("--json", action="store_true", help="the whole plan as JSON")
    found.set_defaults(func=plan)
