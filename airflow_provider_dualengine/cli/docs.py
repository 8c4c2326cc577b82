"""`dualengine docs`: write the unified model documentation (governance/metadata.py), or with
`--check` fail when the committed file differs from what would be generated (a CI step).

Models without a description are warned about on stderr with where to write one in that
engine's files; they never fail the command (the file says `description: ""`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def docs(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.governance.metadata import DEFAULT_OUTPUT, load_metadata, metadata_diff

    project, metadata = load_metadata(args.project_dir, args.history)
    output = Path(args.output) if args.output else project.root / DEFAULT_OUTPUT
    expected = metadata.text
    for missing in metadata.missing:
        print(missing, file=sys.stderr)
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    count = _count(metadata.document)
    if args.check:
        if current == expected:
            print(f"{output} is up to date ({count})")
            return 0
        if current is None:
            print(f"error: {output} does not exist", file=sys.stderr)
        else:
            print(metadata_diff(current, expected, output), end="")
            print(f"error: {output} is out of date with the models' files (the diff above)", file=sys.stderr)
        print(f"    fix: run `{_command(args)}` and commit {output.name}", file=sys.stderr)
        return 1
    if current == expected:
        print(f"{output} is up to date ({count})")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(expected, encoding="utf-8")
    print(f"wrote {output} ({count})")
    return 0


def _count(document: dict) -> str:
    engines = [m["engine"] for m in document["models"]]
    return f"{engines.count('sqlmesh')} SQLMesh, {engines.count('dbt')} dbt models"


def _command(args: argparse.Namespace) -> str:
    """The command that regenerates the file with the options this check used."""
    parts = ["dualengine", "docs", *([args.project_dir] if args.project_dir else [])]
    if args.output:
        parts += ["--output", args.output]
    if args.history:
        parts += ["--history", args.history]
    return shlex.join(parts)


def add_parser(sub: argparse._SubParsersAction) -> None:
    found = sub.add_parser(
        "docs",
        help="write the unified model documentation (descriptions, consumers, dependencies, SLA, cost impact) of both engines",
    )
    found.add_argument(
        "project_dir", nargs="?", default=None, help="project folder (default: $DUALENGINE_PROJECT_DIR, else .)"
    )
    found.add_argument(
        "--output", "-o", metavar="PATH", help="where to write it (default: shared/documentation/model_metadata.yml)"
    )
    found.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff when the file differs from what would be generated",
    )
    found.add_argument(
        "--history",
        metavar="ENV",
        help="cost_impact from the run history of this environment (last 30 days), else from declared costs",
    )
    found.set_defaults(func=docs)
