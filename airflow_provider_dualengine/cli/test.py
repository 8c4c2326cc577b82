"""`dualengine test`: build the project in a throwaway DuckDB file and run the cross-engine
tests (testing/suite.py); `--changed-since REF` only for what changed and its downstream.
Exit 1 when a test fails; the summary names the failing models, `--junit` writes JUnit XML
for the CI system, `--json` prints the whole report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from pathlib import Path


def test(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.testing.results import write_junit
    from airflow_provider_dualengine.testing.suite import run_tests

    log_path = Path(args.log_file or Path(tempfile.gettempdir()) / f"dualengine-test-{os.getpid()}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The engines and Airflow log every statement to stdout; the summary is what a CI log
    # should show, so their lines go to the log file (left open: a logger may keep it).
    log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        report = run_tests(
            args.project_dir, args.environment, changed_since=args.changed_since, max_slowdown=args.max_slowdown
        )
    log.flush()
    if args.junit:
        write_junit(report, Path(args.junit))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    if not args.json:
        print(f"engine logs: {log_path}" + (f"; JUnit XML: {args.junit}" if args.junit else ""))
    return 0 if report.passed else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "test",
        help="build the project in a throwaway DuckDB file and run the cross-engine tests (schema, data, performance, dependencies)",
    )
    parser.add_argument("project_dir", nargs="?", default=None)
    parser.add_argument(
        "--env", "--environment", "-e", dest="environment", help="the environment whose names are built"
    )
    parser.add_argument(
        "--changed-since",
        metavar="GIT_REF",
        help="test only the models changed since this git revision and everything downstream (e.g. origin/main)",
    )
    parser.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML")
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    parser.add_argument(
        "--log-file", metavar="FILE", help="where the engines' own log goes (default: a file in the temp folder)"
    )
    parser.add_argument(
        "--max-slowdown",
        type=float,
        default=None,
        help="a model slower than this many times its run-history median (and 1 s more) fails (default 2)",
    )
    parser.set_defaults(func=test)
