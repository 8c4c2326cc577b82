"""`dualengine lint`: the project's model organization against config/model_organization.yml.

Layers and domains (governance/layers.py), naming conventions and cross-engine reads
(governance/naming.py), the directory structure (governance/directories.py), and the
engine selection mismatches of config/engine_selection_rules.yml. Findings are printed
grouped by file, then counted; the exit code is 1 when any finding is an error. It reads
the compiled artifact and the model files only: no engine, no warehouse, no git log.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.model_organization import ModelOrganizationSpec
    from airflow_provider_dualengine.config.project import Project
    from airflow_provider_dualengine.governance.facts import ProjectFacts
    from airflow_provider_dualengine.governance.findings import Finding


def lint_findings(project: Project, facts: ProjectFacts, spec: ModelOrganizationSpec) -> list[Finding]:
    """Every model-organization finding, in the order lint reports them."""
    from airflow_provider_dualengine.governance.directories import directory_findings
    from airflow_provider_dualengine.governance.layers import layer_findings
    from airflow_provider_dualengine.governance.naming import naming_findings

    return [
        *layer_findings(project, facts, spec),
        *naming_findings(project, facts, spec),
        *directory_findings(project, facts, spec),
    ]


def lint(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.engine_selection import load_engine_selection
    from airflow_provider_dualengine.config.model_organization import load_model_organization, model_organization_file
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.governance.facts import load_facts
    from airflow_provider_dualengine.governance.selection import selection_findings

    project = load_project(args.project_dir)
    config = model_organization_file(project)
    spec, rules = load_model_organization(project), load_engine_selection(project)
    facts = load_facts(project) if spec is not None or rules is not None else None
    findings = lint_findings(project, facts, spec) if facts is not None and spec is not None else []
    if facts is not None and rules is not None:  # the engines report's mismatches, as validate shows them
        findings += selection_findings(project, facts)
    document = {
        "project": project.settings.name,
        "root": str(project.root),
        "file": str(config) if spec is not None else None,
        "findings": [f.to_json() for f in findings],
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
    }
    print(json.dumps(document, indent=2) if args.json else render(document, findings, project.root))
    return 1 if document["errors"] else 0


def render(document: dict[str, Any], findings: list[Finding], root: Path) -> str:
    lines = []
    if document["file"] is None:
        lines.append(
            f"{document['project']}: no config/model_organization.yml in {root}: "
            "layers, domains, naming and directory structure are not checked"
        )
        if not findings:
            return "\n".join(lines)
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(_where(finding.file, root), []).append(finding)
    for where in sorted(groups, key=lambda w: (w == "(project)", w)):
        lines.append(where)
        for f in groups[where]:
            lines.append(f"  {f.severity}: {f.model + ': ' if f.model else ''}{f.message} [{f.rule}]")
            lines.append(f"      fix: {f.fix}")
    files = f" in {len(groups)} file{'s' if len(groups) != 1 else ''}" if groups else ""
    lines.append(
        f"{document['project']}: {document['errors']} error{'s' if document['errors'] != 1 else ''}, "
        f"{document['warnings']} warning{'s' if document['warnings'] != 1 else ''}{files}"
        + (f" ({_where(Path(document['file']), root)})" if document["file"] else "")
    )
    return "\n".join(lines)


def _where(file: Path | None, root: Path) -> str:
    if file is None:
        return "(project)"
    try:
        return str(file.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(file)


def add_parser(sub: argparse._SubParsersAction) -> None:
    found = sub.add_parser(
        "lint",
        help="layers, domains, naming conventions, cross-engine references and directory structure "
        "(config/model_organization.yml)",
    )
    found.add_argument("project_dir", nargs="?", default=".")
    found.add_argument("--json", action="store_true", help="the findings as one JSON document")
    found.set_defaults(func=lint)
