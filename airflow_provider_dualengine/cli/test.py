"""`dualengine test`: build the project in a throwaway DuckDB file and run the cross-engine
tests (testing/suite.py); `--changed-since REF` only for what changed and its downstream.
Exit 1 when a test fails; the summary names the failing models, `--junit` writes JUnit XML
for the CI system, `--json` prints the whole report."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO


def test(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.testing.results import write_junit
    from airflow_provider_dualengine.testing.suite import run_tests

    log, log_path = _log_file(args.log_file)
    # The engines and Airflow log every statement to stdout; the summary is what a CI log
    # should show, so their lines go to the log file (left open: a logger may keep it).
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            report = run_tests(
                args.project_dir, args.environment, changed_since=args.changed_since, max_slowdown=args.max_slowdown
            )
    except Exception as exc:
        if args.junit:  # the CI system shows why nothing ran, not a missing report
            with contextlib.suppress(OSError):
                write_junit(_configuration_report(args, exc), Path(args.junit))
        raise
    finally:
        log.flush()
        print(f"engine logs: {log_path}", file=sys.stderr)
    if args.junit:
        write_junit(report, Path(args.junit))
        print(f"JUnit XML: {args.junit}", file=sys.stderr)
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.render())
    return 0 if report.passed else 1


def _log_file(path: str | None) -> tuple[TextIO, Path]:
    """The file the engines' log lines go to: the one asked for, else a new private file."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", encoding="utf-8"), Path(path)  # noqa: SIM115
    handle, name = tempfile.mkstemp(prefix="dualengine-test-", suffix=".log")
    return os.fdopen(handle, "w", encoding="utf-8"), Path(name)


def _configuration_report(args: argparse.Namespace, exc: BaseException) -> Any:
    """One failing case per configuration problem (file, key, what, fix), or one for any
    other error that stopped the run."""
    from airflow_provider_dualengine.config.errors import DualEngineConfigError
    from airflow_provider_dualengine.testing.results import Case, TestReport

    report = TestReport(str(args.project_dir or "."), args.environment or "(default)", "nothing built")
    issues = exc.issues if isinstance(exc, DualEngineConfigError) else []
    report.add(
        Case(
            "dependency_validation",
            f"project configuration {n}: {issue.file.name if issue.file else 'project'}{f': {issue.key}' if issue.key else ''}",
            "failed",
            issue.render(),
            file=str(issue.file) if issue.file else None,
        )
        for n, issue in enumerate(issues, 1)
    )
    if not issues:
        report.add([Case("dependency_validation", "the run", "failed", f"{type(exc).__name__}: {exc}")])
    return report


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


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
        type=_positive,
        default=None,
        help="a model slower than this many times its run-history median (and 1 s more) fails (default 2)",
    )
    parser.set_defaults(func=test)
