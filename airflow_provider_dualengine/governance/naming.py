"""The seed's naming conventions: a prefix per engine, one for shared interfaces, and how
cross-engine references are written (governance/cross_engine_refs.py).

A model that produces a data contract is a shared interface: its short name takes the
`shared_interfaces` prefix instead of its engine's. A prefix that is null or absent is not
checked; `exempt` globs (each with its reason) skip a model entirely. The fix of a prefix
finding names the new name and everything that must change with it: the model's file,
its contract, its stage in the dependency graph and every model that reads it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from airflow_provider_dualengine.compiled.edges import NodeKey
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import (
    ModelOrganizationSpec,
    NamingConventions,
    model_organization_file,
)
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.governance.cross_engine_refs import cross_engine_findings, display
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts, matching_models
from airflow_provider_dualengine.governance.findings import Finding

_LABELS = {"sqlmesh_models": "SQLMesh model", "dbt_models": "dbt model", "shared_interfaces": "shared interface"}


def naming_findings(project: Project, facts: ProjectFacts, spec: ModelOrganizationSpec) -> list[Finding]:
    """Prefix findings (the section's severity), cross-engine reads that bypass the
    environment-aware mechanisms (`cross_engine_refs.severity`, else the section's), and
    exempt globs that match no model (warnings)."""
    naming = spec.naming
    if naming is None:
        return []
    exempt, unused = exemptions(facts, naming)
    vias = {(e.upstream, e.downstream): e.via for e in facts.graph.edges}  # how each reader reads
    findings = [
        f
        for m in sorted(facts, key=lambda m: m.node_id)
        if m.key not in exempt
        for f in _prefix(project, facts, naming, m, spec.ref_format, vias)
    ]
    if naming.cross_engine_refs is not None:
        severity = naming.cross_engine_refs.severity or naming.severity
        # `exempt` is for legacy names only: a hard-coded read across engines is a data leak
        # between environments whatever the model is called.
        findings += cross_engine_findings(project, facts, severity, spec.ref_format)
    config = model_organization_file(project)
    for index, glob in unused:
        findings.append(
            Finding(
                "warning",
                "naming.exempt",
                "",
                f"naming_conventions.exempt[{index}]: '{glob}' matches no model",
                "remove it, or correct the name (globs match engine:name, the full name or the short name)",
                config,
            )
        )
    return findings


def exemptions(facts: ProjectFacts, naming: NamingConventions) -> tuple[dict[NodeKey, str], list[tuple[int, str]]]:
    """(model -> the reason it is exempt, (entry, glob) of globs that match nothing)."""
    exempt: dict[NodeKey, str] = {}
    unused = []
    for index, entry in enumerate(naming.exempt):
        for glob in entry.models:
            matched = matching_models(facts, glob)
            if not matched:
                unused.append((index, glob))
            for model in matched:
                exempt.setdefault(model.key, entry.reason)
    return exempt, unused


def expected_prefix(model: ModelFacts, naming: NamingConventions) -> tuple[str, str] | None:
    """(rule, prefix) the model's short name must start with; None when nothing is checked."""
    if model.contracts and naming.prefix("shared_interfaces"):
        return "shared_interfaces", naming.prefix("shared_interfaces") or ""
    rule = "sqlmesh_models" if model.engine is Engine.SQLMESH else "dbt_models"
    prefix = naming.prefix(rule)
    return (rule, prefix) if prefix else None


def suggested_name(model: ModelFacts, naming: NamingConventions) -> str | None:
    """The name the convention asks for (`staging.sqlm_stg_orders`, `shared_customer_value`),
    another rule's prefix replaced; None when the name already follows it."""
    expected = expected_prefix(model, naming)
    if expected is None or model.short_name.startswith(expected[1]):
        return None
    short = model.short_name
    for rule in ("sqlmesh_models", "dbt_models", "shared_interfaces"):
        other = naming.prefix(rule)
        if other and short.startswith(other):
            short = short.removeprefix(other)
            break
    new = f"{expected[1]}{short}"
    return f"{model.name.rsplit('.', 1)[0]}.{new}" if "." in model.name else new


def _prefix(
    project: Project,
    facts: ProjectFacts,
    naming: NamingConventions,
    model: ModelFacts,
    fmt: str,
    vias: dict[tuple[NodeKey, NodeKey], str],
) -> list[Finding]:
    expected = expected_prefix(model, naming)
    new = suggested_name(model, naming)
    if expected is None or new is None:
        return []
    rule, prefix = expected
    why = ""
    if rule == "shared_interfaces":
        contract = _relative(model.contracts[0].file, project.root)
        why = f" (it produces the data contract {contract}, so it is a shared interface, not a plain {_LABELS[model.engine.value + '_models']})"
    return [
        Finding(
            naming.severity,
            f"naming.{rule}.prefix",
            model.node_id,
            f"'{model.short_name}' lacks the {_LABELS[rule]} prefix '{prefix}'{why}",
            _rename_fix(project, facts, model, new, fmt, vias),
            project.root / model.path if model.path else None,
        )
    ]


def _rename_fix(
    project: Project,
    facts: ProjectFacts,
    model: ModelFacts,
    new: str,
    fmt: str,
    vias: dict[tuple[NodeKey, NodeKey], str],
) -> str:
    """Rename to `new`: where the name is written, and what else names it."""
    parts = []
    new_short = new.rsplit(".", 1)[-1]
    if model.path is not None:
        renamed = PurePosixPath(model.path.as_posix()).with_stem(new_short)
        if model.engine is Engine.DBT:
            parts.append(f"rename {model.path} to {renamed} (dbt names a model after its file) and its YAML entries")
        else:
            where = "@model(...)" if model.python else "MODEL (name ...)"
            parts.append(f"change {where} in {model.path} and rename the file to {renamed.name}")
    for contract in model.contracts:
        parts.append(f"the contract {_relative(contract.file, project.root)} ({contract.key('name')})")
    stages = [
        name
        for name, stage in project.graph_spec.dependency_graph.items()
        if model.name in stage.models_for(model.engine.value)
    ]
    if stages:
        parts.append(f"{_relative(project.files['dependency_graph'], project.root)} (stage {', '.join(stages)})")
    readers = [_reader(facts, key, vias.get((model.key, key), ""), fmt) for key in model.downstream]
    if readers:
        parts.append(f"its readers {', '.join(readers)}")
    return f"rename it to {new}: " + "; ".join(parts)


def _reader(facts: ProjectFacts, key: NodeKey, via: str, fmt: str) -> str:
    reader = facts.models.get(key)
    where = str(reader.path) if reader and reader.path else "?"
    if via == "source":
        where = f"{where}, through a dbt source: its table or identifier, and meta.sqlmesh_model"
    return f"{display(key, fmt)} ({where})"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
