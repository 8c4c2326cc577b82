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
from collections.abc import Mapping, Sequence
from pathlib import Path

from airflow_provider_dualengine.compiled.document import (
    ARTIFACT_VERSION,
    ArtifactProblem,
    CompiledArtifact,
    CrossEngineEdge,
    parse_artifact,
)
from airflow_provider_dualengine.compiled.edges import model_edges, node_id
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project

__all__ = [
    "ARTIFACT_VERSION",
    "ArtifactProblem",
    "CompiledArtifact",
    "changed_sources",
    "compile_project",
    "ensure_compiled",
    "gateway_issue",
    "read_artifact",
    "source_files_state",
]

_SOURCE_SUFFIXES = {".sql", ".py", ".yml", ".yaml", ".csv", ".json"}
_SKIP_DIRS = {"target", "logs", ".cache", "dbt_packages", "__pycache__", ".venv"}


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


def changed_sources(project: Project, recorded: Mapping[str, Sequence]) -> list[str]:
    """Source files that differ from `recorded`, as `<engine folder>/<path> (new|deleted|changed)`.
    Size and mtime equal means unchanged (a stat per file, fast at parse time); only files
    whose stat differs are hashed."""
    current = dict(_source_files(project))
    changes = [f"{key} (new)" for key in sorted(set(current) - set(recorded))]
    changes += [f"{key} (deleted)" for key in sorted(set(recorded) - set(current))]
    for key in sorted(set(current) & set(recorded)):
        size, mtime_ns, digest = recorded[key]
        stat = current[key].stat()
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime_ns) and hashlib.sha256(
            current[key].read_bytes()
        ).hexdigest() != digest:
            changes.append(f"{key} (changed)")
    return changes


def compile_project(project: Project, environment: str | None = None) -> Path:
    """Run `dbt compile` and load the SQLMesh project once; write the artifact.

    Raises DualEngineConfigError naming the file (and line) when either engine rejects
    the project: a model that does not parse or import, a broken SQLMesh config, an
    unknown gateway, a dbt Jinja error or a ref()/source() to nothing."""
    from airflow_provider_dualengine.engines.dbt.catalog import dbt_catalog_from_manifest
    from airflow_provider_dualengine.engines.dbt.manifest import compile_manifest
    from airflow_provider_dualengine.engines.sqlmesh.compile import describe_sqlmesh_project
    from airflow_provider_dualengine.engines.sqlmesh.project_config import UnknownGateway

    env = project.environment(environment)
    files = source_files_state(project)
    try:
        sqlmesh = describe_sqlmesh_project(project.sqlmesh_path, env.sqlmesh_gateway)
    except UnknownGateway as exc:
        raise DualEngineConfigError([gateway_issue(project, env.name, exc.name, exc.known, exc.from_default)]) from None
    suffix_var = project.settings.dbt.sqlmesh_suffix_var
    path = project.artifact_path
    path.parent.mkdir(parents=True, exist_ok=True)
    # dbt parse needs the SQLMesh models first: cross-engine ref() resolves through them.
    models_file = path.with_suffix(f".{os.getpid()}.sqlmesh.json")
    models_file.write_text(
        json.dumps({"sqlmesh": sqlmesh, "dbt": {"sqlmesh_suffix_var": suffix_var}}), encoding="utf-8"
    )
    try:
        manifest_path, compile_problem = compile_manifest(project, environment, sqlmesh_models=models_file)
    finally:
        models_file.unlink(missing_ok=True)
    artifact = CompiledArtifact.model_validate(
        {
            "version": ARTIFACT_VERSION,
            "sources": files,
            "sqlmesh": sqlmesh,
            "dbt": {
                "manifest": os.path.relpath(manifest_path, project.root),
                "models": dbt_catalog_from_manifest(
                    manifest_path, {name: m.get("columns") or {} for name, m in sqlmesh["models"].items()}
                ).to_json(),
                "sqlmesh_suffix_var": suffix_var,
                "columns_read_problem": compile_problem,
            },
        }
    )
    artifact = artifact.model_copy(update={"cross_engine_edges": _cross_engine_edges(project, artifact)})
    # Write-then-rename: a DAG processor parsing at the same moment never reads half a file.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifact.to_json(), indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
    return path


def gateway_issue(
    project: Project, environment: str | None, name: str, known: list[str] | None, from_default: bool = False
) -> ConfigIssue:
    """A gateway the SQLMesh config does not have, reported where it was set: the
    environment's `sqlmesh.gateway`, else dualengine.yml's (`environment` None: there),
    or the SQLMesh config's own `default_gateway`."""
    from airflow_provider_dualengine.engines.sqlmesh.errors import config_file

    if from_default:
        file, key = config_file(project.sqlmesh_path), "default_gateway"
    elif environment is None:
        file, key = project.files["settings"], "sqlmesh.gateway"
    else:
        file, key = project.gateway_setting(environment)
    if known is None:
        return ConfigIssue(
            file,
            key,
            f"gateway '{name}': the SQLMesh config ({config_file(project.sqlmesh_path).name}) has a single unnamed gateway",
            "remove the gateway setting, or name the gateways under `gateways:` in the SQLMesh config",
        )
    return ConfigIssue(
        file,
        key,
        f"the SQLMesh project has no gateway '{name}'",
        f"use one of the gateways in {config_file(project.sqlmesh_path).name}: {', '.join(known)}",
    )


def _cross_engine_edges(project: Project, artifact: CompiledArtifact) -> tuple[CrossEngineEdge, ...]:
    """Recorded for lineage consumers; the factory recomputes them from the same data."""
    catalogs = artifact.catalogs(project.root, project.sqlmesh_path)
    return tuple(
        CrossEngineEdge.model_validate({"from": node_id(e.upstream), "to": node_id(e.downstream), "via": e.via})
        for e in model_edges(catalogs, project.settings.dbt.schema_)
        if e.cross_engine
    )


def ensure_compiled(project: Project, environment: str | None = None) -> bool:
    """Compile when the artifact is missing or stale; True if it compiled. Opt-in only:
    compiling loads SQLMesh and runs dbt parse, which makes that parse slow."""
    try:
        read_artifact(project)
        return False
    except ArtifactProblem:
        compile_project(project, environment)
        return True


def read_artifact(project: Project, check_fresh: bool = True) -> CompiledArtifact:
    """The project's compiled artifact; with `check_fresh`, refused when a source file,
    the dbt manifest path or the suffix var changed since it was written."""
    path = project.artifact_path
    if path.is_dir():
        raise ArtifactProblem(f"compiled artifact {path} is a folder, not the JSON file `dualengine compile` writes")
    if not path.is_file():
        raise ArtifactProblem(f"compiled artifact not found at {path}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ArtifactProblem(f"compiled artifact {path} is not UTF-8 text (byte at offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ArtifactProblem(f"compiled artifact {path} is not valid JSON ({exc})") from None
    artifact = parse_artifact(data, path, project.root)
    if check_fresh:
        _check_fresh(project, artifact)
    return artifact


def _check_fresh(project: Project, artifact: CompiledArtifact) -> None:
    path = project.artifact_path
    changes = changed_sources(project, artifact.sources)
    if changes:
        shown = ", ".join(changes[:5]) + (f" and {len(changes) - 5} more" if len(changes) > 5 else "")
        raise ArtifactProblem(
            f"compiled artifact {path} is stale: {len(changes)} SQLMesh/dbt source file(s) changed since it was written: {shown}"
        )
    manifest = (project.root / artifact.dbt.manifest).resolve()
    if manifest != project.dbt_manifest_path:
        raise ArtifactProblem(
            f"compiled artifact {path} is stale: it was compiled with the dbt manifest {manifest}, but dualengine.yml's dbt.manifest now means {project.dbt_manifest_path}"
        )
    recorded_var = artifact.dbt.sqlmesh_suffix_var
    if recorded_var != project.settings.dbt.sqlmesh_suffix_var:
        raise ArtifactProblem(
            f"compiled artifact {path} is stale: it was compiled with dbt.sqlmesh_suffix_var '{recorded_var}', dualengine.yml now says '{project.settings.dbt.sqlmesh_suffix_var}'"
        )
