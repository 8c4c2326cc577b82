"""Patterns 2 and 3: which layer (and domain) each model is in, and whether its engine may be.

A model's layer is found by the methods of `find_by`, tried in order (its file's folder,
its engine tags, its schema); the first method that matches any definition decides. Two
definitions matched by that method put the model in both, which is a finding of its own,
and so is a model in no layer when `require_layer` asks for one. `dualengine lint` and
`dualengine validate` report the findings with the section's severity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from airflow_provider_dualengine.compiled.edges import NodeKey
from airflow_provider_dualengine.config.model_organization import (
    DomainsSpec,
    LayersSpec,
    ModelOrganizationSpec,
    model_organization_file,
)
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts
from airflow_provider_dualengine.governance.findings import Finding

Separation = LayersSpec | DomainsSpec
_METHOD_KEY = {"folder": "folders", "tag": "tags", "schema": "schemas"}


@dataclass(frozen=True)
class Match:
    """A definition that claims a model, and the folder, tag or schema by which it does."""

    definition: str
    method: str  # folder | tag | schema
    value: str

    def __str__(self) -> str:
        return f"{self.definition} (found by {self.method} {self.value})"


def placements(model: ModelFacts, spec: Separation) -> list[Match]:
    """The definitions the first `find_by` method that matches anything finds: one, several
    (a finding), or none."""
    for method in spec.find_by:
        found = []
        for name, definition in spec.definitions.items():
            value = _matched(model, method, getattr(definition, _METHOD_KEY[method]))
            if value is not None:
                found.append(Match(name, method, value))
        if found:
            return found
    return []


def assignments(facts: ProjectFacts, spec: Separation) -> dict[NodeKey, str | None]:
    """Each model's layer (domain): None for none or for more than one."""
    result: dict[NodeKey, str | None] = {}
    for model in facts:
        found = placements(model, spec)
        result[model.key] = found[0].definition if len(found) == 1 else None
    return result


def _matched(model: ModelFacts, method: str, values: list[str]) -> str | None:
    if method == "folder":
        if model.path is None:
            return None
        path = PurePosixPath(model.path.as_posix())
        return next((f for f in values if path.is_relative_to(f)), None)
    if method == "tag":
        return next((t for t in values if t in model.tags), None)
    schema = (model.schema or "").lower()
    return next((s for s in values if s.lower() == schema), None)


def layer_findings(project: Project, facts: ProjectFacts, spec: ModelOrganizationSpec) -> list[Finding]:
    """Every layer and domain finding: a model whose engine its layer (domain) does not
    allow, a model in two, and a model in none where one is required. Severity: the
    section's `severity`."""
    findings: list[Finding] = []
    config = model_organization_file(project)
    for section, separation in (("layers", spec.layers), ("domains", spec.domains)):
        if separation is None:
            continue
        for model in sorted(facts, key=lambda m: m.node_id):
            findings += _model_findings(project, section, separation, model, config)
    return findings


def _model_findings(project: Project, section: str, spec: Separation, model: ModelFacts, config: Path) -> list[Finding]:
    what = section.rstrip("s")
    file = project.root / model.path if model.path else None
    found = placements(model, spec)
    config_name = _relative(config, project.root)
    if not found:
        if not spec.required:
            return []
        return [
            Finding(
                spec.severity,
                f"{section}.required",
                model.node_id,
                f"is in no {what} (require_{what}: true): no {what} claims it by {', '.join(spec.find_by)}",
                f"move it into a folder of a {what}, or give it a {what}'s tag or schema ({section}.definitions in {config_name})",
                file,
            )
        ]
    if len(found) > 1:
        names = " and ".join(str(m) for m in found)
        return [
            Finding(
                spec.severity,
                f"{section}.overlap",
                model.node_id,
                f"is in {len(found)} {section}: {names}; a model belongs to one {what}",
                _overlap_fix(found, what),
                file,
            )
        ]
    match = found[0]
    definition = spec.definitions[match.definition]
    engine = model.engine.value
    if engine in definition.engines:
        return []
    reason = f" ({definition.reason.strip()})" if definition.reason.strip() else ""
    return [
        Finding(
            spec.severity,
            f"{section}.{match.definition}",
            model.node_id,
            f"is in {what} {match}, which allows {' and '.join(definition.engines)} only{reason}",
            _engine_fix(project, section, spec, model, match, config_name),
            file,
        )
    ]


def _overlap_fix(found: list[Match], what: str) -> str:
    if all(m.method == "tag" for m in found):
        return f"keep only the tag of its {what}: one of {', '.join(repr(m.value) for m in found)}"
    return f"change the definitions so that one {what} claims it"


def _engine_fix(
    project: Project, section: str, spec: Separation, model: ModelFacts, match: Match, config_name: str
) -> str:
    """Where the model could go instead (a definition allowing its engine), or which
    definition to change."""
    what = section.rstrip("s")
    engine = model.engine.value
    allowing = [name for name, d in spec.definitions.items() if engine in d.engines]
    change = f"or allow {engine} in {section}.definitions.{match.definition}.engines ({config_name})"
    if match.method == "folder":
        engine_root = _engine_folder(project, model)
        folders = [
            f
            for name in allowing
            for f in spec.definitions[name].folders
            if engine_root is None or PurePosixPath(f).is_relative_to(engine_root)
        ]
        where = f"a folder of a {what} that allows {engine} ({', '.join(folders)})" if folders else "another folder"
        return f"move {model.path} to {where}, rewrite it for {' or '.join(spec.definitions[match.definition].engines)}, {change}"
    if match.method == "tag":
        others = [t for name in allowing for t in spec.definitions[name].tags]
        tag_hint = f" (tags of {what}s allowing {engine}: {', '.join(others)})" if others else ""
        return f"remove the tag '{match.value}' from it{tag_hint}, {change}"
    schemas = [s for name in allowing for s in spec.definitions[name].schemas]
    schema_hint = f" ({', '.join(schemas)})" if schemas else ""
    return f"write it to the schema of a {what} that allows {engine}{schema_hint} instead of '{match.value}', {change}"


def _engine_folder(project: Project, model: ModelFacts) -> PurePosixPath | None:
    """`sqlmesh` / `dbt`: the model's engine project folder, relative to the project root."""
    folder = project.sqlmesh_path if model.engine.value == "sqlmesh" else project.dbt_path
    try:
        return PurePosixPath(folder.relative_to(project.root.resolve()).as_posix())
    except ValueError:
        return None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.resolve()))
    except ValueError:
        return str(path)
