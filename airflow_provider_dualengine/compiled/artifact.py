"""`dualengine compile` writes one JSON artifact per project; the DAG factory reads only it.

Loading a SQLMesh Context takes seconds and running `dbt parse` longer, so both happen
here, once, and the result is stored with the size, mtime and hash of every source file.
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


def _source_files(project: Project) -> list[tuple[str, Path]]:
    """Every SQLMesh/dbt source file, keyed `<engine folder>/<relative path>`. A pruned
    os.walk: build output (target/, .cache/, logs/) is never entered, which matters at
    parse time where this runs."""
    files = []
    for root in (project.sqlmesh_path, project.dbt_path):
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
            rel_folder = os.path.relpath(folder, root)
            for name in sorted(names):
                if os.path.splitext(name)[1] in _SOURCE_SUFFIXES:
                    rel = name if rel_folder == "." else f"{rel_folder}/{name}"
                    files.append((f"{root.name}/{rel}", Path(folder, name)))
    return sorted(files)


def source_files_state(project: Project) -> dict[str, list]:
    """Per source file: [size, mtime_ns, sha256]; what freshness is checked against."""
    state = {}
    for key, path in _source_files(project):
        stat = path.stat()
        state[key] = [stat.st_size, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()]
    return state


def _is_fresh(project: Project, recorded: dict[str, list]) -> bool:
    """Same files with the same contents. Size and mtime equal means unchanged (a stat per
    file, fast at parse time); only files whose stat differs are hashed."""
    current = _source_files(project)
    if {key for key, _ in current} != set(recorded):
        return False
    for key, path in current:
        size, mtime_ns, digest = recorded[key]
        stat = path.stat()
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns) and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            return False
    return True


def compile_project(project: Project, environment: str | None = None) -> Path:
    """Run `dbt parse` and load the SQLMesh project once; write the artifact."""
    from airflow_provider_dualengine.engines.dbt.manifest import compile_manifest
    from airflow_provider_dualengine.engines.sqlmesh.compile import describe_sqlmesh_project

    from airflow_provider_dualengine.engines.dbt.catalog import dbt_catalog_from_manifest

    env = project.environment(environment)
    files = source_files_state(project)
    sqlmesh = describe_sqlmesh_project(project.sqlmesh_path, env.sqlmesh_gateway)
    path = project.artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    # dbt parse needs the SQLMesh models first: cross-engine ref() resolves through them.
    models_file = path.with_suffix(f".{os.getpid()}.sqlmesh.json")
    models_file.write_text(json.dumps({"sqlmesh": sqlmesh}), encoding="utf-8")
    try:
        manifest_path = compile_manifest(project, environment, sqlmesh_models=models_file)
    finally:
        models_file.unlink(missing_ok=True)
    artifact = {
        "version": ARTIFACT_VERSION,
        "sources": files,
        "sqlmesh": sqlmesh,
        "dbt": {"manifest": os.path.relpath(manifest_path, project.root), "models": dbt_catalog_from_manifest(manifest_path).to_json()},
    }
    artifact["cross_engine_edges"] = _cross_engine_edges(project, artifact)
    # Write-then-rename: a DAG processor parsing at the same moment never reads half a file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifact, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _cross_engine_edges(project: Project, artifact: dict[str, Any]) -> list[dict[str, str]]:
    """Recorded for lineage consumers; the factory recomputes them from the same data."""
    from airflow_provider_dualengine.engines.catalog import ModelCatalog
    from airflow_provider_dualengine.engines.sqlmesh.catalog import sqlmesh_catalog_from_artifact
    from airflow_provider_dualengine.graph.engine import Engine
    from airflow_provider_dualengine.graph.lineage import build_model_graph

    dbt = ModelCatalog.from_json("dbt", project.root / artifact["dbt"]["manifest"], artifact["dbt"]["models"])
    catalogs = {Engine.SQLMESH: sqlmesh_catalog_from_artifact(artifact, project.sqlmesh_path), Engine.DBT: dbt}
    graph = build_model_graph(catalogs, project.settings.dbt.schema_)
    return [{"from": f"{e.upstream[0].value}:{e.upstream[1]}", "to": f"{e.downstream[0].value}:{e.downstream[1]}", "via": e.via} for e in graph.cross_engine_edges()]


def ensure_compiled(project: Project, environment: str | None = None) -> bool:
    """Compile when the artifact is missing or stale; True if it compiled. Opt-in only:
    compiling loads SQLMesh and runs dbt parse, which makes that parse slow."""
    try:
        read_artifact(project)
        return False
    except ArtifactProblem:
        compile_project(project, environment)
        return True


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
    if check_fresh and not _is_fresh(project, artifact.get("sources", {})):
        raise ArtifactProblem(f"compiled artifact {path} is stale: SQLMesh or dbt project files changed since it was written")
    return artifact
