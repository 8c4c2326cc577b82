"""`dualengine compile` writes one JSON artifact per project; the DAG factory reads only it.

Loading a SQLMesh Context takes seconds and running `dbt parse` longer, so both happen
here, once, and the result is stored with a fingerprint of the sources it came from.
A changed source file makes the artifact stale, which parsing reports instead of
rendering yesterday's graph.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.config.project import Project

ARTIFACT_VERSION = 1
_SOURCE_SUFFIXES = {".sql", ".py", ".yml", ".yaml", ".csv", ".json"}
_SKIP_DIRS = {"target", "logs", ".cache", "dbt_packages", "__pycache__", ".venv"}


class ArtifactProblem(Exception):
    """The artifact is missing, unreadable, from another version, or stale."""


def source_fingerprint(project: Project) -> str:
    """sha256 over the engine projects' source files (paths and contents)."""
    digest = hashlib.sha256()
    for root in (project.sqlmesh_path, project.dbt_path):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and path.suffix in _SOURCE_SUFFIXES and not _SKIP_DIRS & set(rel.parts):
                digest.update(f"{root.name}/{rel}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def compile_project(project: Project, environment: str | None = None) -> Path:
    """Run `dbt parse` and load the SQLMesh project once; write the artifact."""
    from airflow_provider_dualengine.engines.dbt.manifest import compile_manifest
    from airflow_provider_dualengine.engines.sqlmesh.compile import describe_sqlmesh_project

    env = project.environment(environment)
    fingerprint = source_fingerprint(project)
    manifest_path = compile_manifest(project, environment)
    artifact = {
        "version": ARTIFACT_VERSION,
        "fingerprint": fingerprint,
        "sqlmesh": describe_sqlmesh_project(project.sqlmesh_path, env.sqlmesh_gateway),
        "dbt": {"manifest": os.path.relpath(manifest_path, project.root)},
    }
    path = project.artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(artifact, indent=1, sort_keys=True), encoding="utf-8")
    return path


def read_artifact(project: Project, check_fresh: bool = True) -> dict[str, Any]:
    path = project.artifact_path
    if not path.is_file():
        raise ArtifactProblem(f"compiled artifact not found at {path}")
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArtifactProblem(f"compiled artifact {path} is not valid JSON ({exc})") from None
    if artifact.get("version") != ARTIFACT_VERSION:
        raise ArtifactProblem(f"compiled artifact {path} has version {artifact.get('version')}, this provider reads {ARTIFACT_VERSION}")
    if check_fresh and artifact.get("fingerprint") != source_fingerprint(project):
        raise ArtifactProblem(f"compiled artifact {path} is stale: SQLMesh or dbt project files changed since it was written")
    return artifact
