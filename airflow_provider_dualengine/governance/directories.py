"""The seed's `transforms/` layout: model files in the allowed folders of each engine,
data contracts in shared/schemas, and the shared folders the seed lists.

    sqlmesh/models/{staging,intermediate,shared}/   dbt/models/{marts,staging,intermediate}/
    shared/schemas/ (data contracts)  shared/tests/  shared/documentation/  config/

Every finding says where to move the file (or which folder to create).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import (
    DirectoryStructure,
    LayersSpec,
    ModelOrganizationSpec,
    model_organization_file,
)
from airflow_provider_dualengine.config.project import Project, ProjectSettings
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts
from airflow_provider_dualengine.governance.findings import Finding
from airflow_provider_dualengine.governance.layers import placements

_PURPOSE = {
    "sqlmesh": "the SQLMesh project",
    "dbt": "the dbt project",
    "shared/schemas": "data contracts between the engines",
    "shared/tests": "cross-engine tests",
    "shared/documentation": "unified documentation",
    "config": "the dual-engine configuration files",
}


def directory_findings(project: Project, facts: ProjectFacts, spec: ModelOrganizationSpec) -> list[Finding]:
    """Model files outside their engine's allowed folders, contracts outside the contracts
    folder, and missing seed folders (the section's severity)."""
    layout = spec.directories
    if layout is None:
        return []
    config = _relative(model_organization_file(project), project.root)
    findings = [
        f for m in sorted(facts, key=lambda m: m.node_id) for f in _model_file(project, layout, m, config, spec.layers)
    ]
    findings += _contract_files(project, layout, config)
    for folder in layout.required_folders:
        if not (project.root / folder).is_dir():
            purpose = f" ({_PURPOSE[folder]})" if folder in _PURPOSE else ""
            findings.append(
                Finding(
                    layout.severity,
                    "directories.missing",
                    "",
                    f"the folder {folder}/{purpose} is missing",
                    f"create {folder}/ in {project.root} (with a .gitkeep while it is empty), "
                    f"or remove it from directory_structure.required_folders in {config}",
                    project.root / folder,
                )
            )
    return findings


def models_folder(project: Project, engine: Engine) -> PurePosixPath | None:
    """`sqlmesh/models` / `dbt/models`, relative to the project root (None: outside it)."""
    base = project.sqlmesh_path if engine is Engine.SQLMESH else project.dbt_path
    try:
        return PurePosixPath(base.relative_to(project.root.resolve()).as_posix()) / "models"
    except ValueError:
        return None


def _model_file(
    project: Project, layout: DirectoryStructure, model: ModelFacts, config: str, layers: LayersSpec | None
) -> list[Finding]:
    root = models_folder(project, model.engine)
    if model.path is None or root is None:
        return []
    key = "sqlmesh_model_folders" if model.engine is Engine.SQLMESH else "dbt_model_folders"
    allowed: list[str] = getattr(layout, key)
    path = PurePosixPath(model.path.as_posix())
    if any(path.is_relative_to(root / folder) for folder in allowed):
        return []
    inside = path.relative_to(root).parts[:-1] if path.is_relative_to(root) else ()
    target = _target_folder(model, allowed, root, layers)
    if target is not None:
        move = f"move it to {root / target / path.name}"
    else:
        move = (
            f"move it into the allowed folder its models belong in (e.g. {root / allowed[0] / path.name})"
            if allowed
            else f"move it under {root}/"
        )
    also = f", or add '{inside[0]}' to directory_structure.{key} in {config}" if inside else ""
    where = f"folder {root / inside[0]}" if inside else f"{path.parent}"
    return [
        Finding(
            layout.severity,
            f"directories.{model.engine.value}_models",
            model.node_id,
            f"its file {path} is in {where}; {model.engine.value} models belong in "
            + ", ".join(f"{root / f}/" for f in allowed),
            move + also,
            project.root / model.path,
        )
    ]


def _target_folder(model: ModelFacts, allowed: list[str], root: PurePosixPath, layers: LayersSpec | None) -> str | None:
    """The allowed folder named like the model's schema (SQLMesh `staging.x` -> staging/),
    else the allowed folder its layer (found by tag or schema) uses; None when neither."""
    schema = (model.schema or "").lower()
    if model.engine is Engine.SQLMESH:
        named = next((f for f in allowed if f.lower() == schema), None)
        if named is not None:
            return named
    found = placements(model, layers) if layers is not None else []
    if len(found) == 1:
        for folder in layers.definitions[found[0].definition].folders if layers else []:
            candidate = PurePosixPath(folder)
            if candidate.is_relative_to(root) and candidate != root:
                inner = candidate.relative_to(root).parts[0]
                if inner in allowed:
                    return inner
    return None


def _contract_files(project: Project, layout: DirectoryStructure, config: str) -> list[Finding]:
    expected = (project.root / layout.contracts_folder).resolve()
    folder = project.contracts_path
    if folder.is_relative_to(expected) or not folder.is_dir():
        return []
    if layout.contracts_folder == ProjectSettings.model_fields["contracts"].default:
        setting = f"remove `contracts:` from dualengine.yml ({layout.contracts_folder} is its default)"
    else:
        setting = f"set `contracts: {layout.contracts_folder}` in dualengine.yml"
    return [
        Finding(
            layout.severity,
            "directories.contracts",
            "",
            f"data contract {_relative(path, project.root)} is outside {layout.contracts_folder}/, where the seed keeps contracts",
            f"move it to {layout.contracts_folder}/{path.name} and {setting}, or set "
            f"directory_structure.contracts_folder in {config}",
            path,
        )
        for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")])
    ]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
