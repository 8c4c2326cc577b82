"""`dualengine engines`: each model's engine against config/engine_selection_rules.yml
(governance/selection.py): current and recommended engine, the rules that fired, the
override that applied, the mismatches as findings, and where each feature came from.

It only reads: the compiled artifact, the dbt manifest, the contracts, `git log` of the
model files and the run history (read-only, as `dualengine plan`; `--no-history` skips
the warehouse). Exit 1 when a mismatch is an error (`mismatch: error` in the file)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dualengine.governance.selection import SelectionReport

NO_FILE = (
    "no {file}: no engine recommendations. Write one to compare each model's engine with "
    "Pattern 1's rules (keys and decision order: docs/engine-selection.md; the example "
    "project's transforms/config/engine_selection_rules.yml is a start)"
)


def engines(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.engine_selection import engine_selection_file, load_engine_selection
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.governance.facts import load_facts
    from airflow_provider_dualengine.governance.selection import selection_report

    project = load_project(args.project_dir)
    spec = load_engine_selection(project)
    if spec is None:
        file = engine_selection_file(project)
        message = NO_FILE.format(file=file)
        if args.json:
            print(json.dumps({"project": project.settings.name, "file": None, "message": message}, indent=2))
        else:
            print(f"{project.settings.name}: {message}")
        return 0
    facts = load_facts(project)
    report = selection_report(project, facts, spec, args.environment, use_history=not args.no_history)
    print(json.dumps(report.to_json(), indent=2) if args.json else render(report))
    return 1 if report.has_errors else 0


def render(report: SelectionReport) -> str:
    """The report as the table the CLI prints: one row per model, then the findings, then
    where the features came from."""
    spec = report.spec
    rows: list[tuple[str, ...]] = [("model", "current", "recommended", "decided by", "rules fired", "override glob")]
    for m in report.models:
        fired = ", ".join(f.rule.name for f in m.fired) or "-"
        override = f"'{m.override.glob}'" if m.override else "-"
        recommended = m.recommended.value + (" (!)" if m.mismatch else "")
        rows.append((m.model.node_id, m.current.value, recommended, m.decided_by, fired, override))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        f"{report.project} ({report.environment}): engine selection by {report.file} "
        f"(default {spec.default_engine}, mismatch: {spec.mismatch})"
    ]
    for row in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    overrides = {(m.override.key, m.override.reason) for m in report.models if m.override}
    for key, reason in sorted(overrides):
        lines.append(f"  {key}: {reason}")
    mismatches = len(report.mismatches)
    lines.append(
        f"{len(report.models)} models, {mismatches} on another engine than recommended"
        + (" (marked (!))" if mismatches else "")
    )
    for finding in report.findings:
        lines.append(str(finding))
    lines.append("feature sources (--json shows each value with its source):")
    lines += [f"  {line}" for line in _sources(report)]
    return "\n".join(lines)


def _sources(report: SelectionReport) -> list[str]:
    from airflow_provider_dualengine.governance.selection import FEATURE_SOURCES

    sources: dict[str, Any] = {
        "cost, execution time": report.history,
        "rapid iteration": report.git,
    }
    return [f"{k}: {v}" for k, v in sources.items()] + list(FEATURE_SOURCES.values())


def add_parser(sub: argparse._SubParsersAction) -> None:
    found = sub.add_parser(
        "engines",
        help="each model's engine against config/engine_selection_rules.yml: recommendation, rules fired, mismatches",
    )
    found.add_argument("project_dir", nargs="?", default=None, help="project folder (default: $DUALENGINE_PROJECT_DIR)")
    found.add_argument(
        "--environment", "-e", default=None, help="whose run history prices the models (default: the project's default)"
    )
    found.add_argument("--json", action="store_true", help="every model's features with their sources, as JSON")
    found.add_argument(
        "--no-history", action="store_true", help="do not read the run history (cost and run time from declared: only)"
    )
    found.set_defaults(func=engines)
