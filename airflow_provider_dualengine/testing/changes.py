"""Which models changed since a git revision, decided by each engine's own comparison.

The base revision's copy of the project (`git archive`, nothing checked out in the
user's work tree) is compiled like any project; then:

- SQLMesh: a model changed when its fingerprint (`data_hash`, what SQLMesh's plan diff
  compares) differs from the base's, or it is new;
- dbt: `dbt ls --select state:modified --state <base manifest>`;
- a changed contract selects its producer and consumers, a changed check file in
  `shared/tests/` the models it names, and a changed file under `config/` (stages,
  environments) selects every model: their effect is not one model's.

The models to test are those plus everything downstream across both engines (the
impact analysis' walk); what they read is built too, as inputs.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.graph.lineage import NodeKey, node_id

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project
    from airflow_provider_dualengine.graph.model import UnifiedGraph

GIT_TIMEOUT_S = 120


@dataclass
class ChangeSet:
    """What changed since `since`, and why each model counts as changed."""

    since: str
    changed: set[NodeKey] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    everything: bool = False


def changes_since(project: Project, graph: UnifiedGraph, ref: str, environment: str | None = None) -> ChangeSet:
    """The changed models of `project` (its work tree, committed or not) since git `ref`."""
    root, prefix = _repository(project.root)
    commit = _commit(root, ref)
    files = _changed_files(root, commit, prefix)
    change = ChangeSet(since=ref)
    if not files:
        return change
    settings_file = project.files["settings"].resolve().relative_to(project.root.resolve()).as_posix()
    config_files = sorted(f for f in files if f.startswith("config/") or f == settings_file)
    if config_files:
        change.everything = True
        change.reasons.append(f"{', '.join(config_files)} changed: every model is tested")
    with tempfile.TemporaryDirectory(prefix="dualengine-base-") as tmp:
        base_root = _base_copy(root, commit, prefix, Path(tmp), project.files["settings"].name)
        if base_root is None:
            change.everything = True
            change.reasons.append(f"the project does not exist at {ref}: every model is tested")
        else:
            _engine_changes(project, graph, base_root, environment, change)
    _file_changes(project, graph, files, change)
    if change.everything:
        change.changed = set(graph.models_graph.nodes)
    return change


def tested_models(graph: UnifiedGraph, changed: set[NodeKey]) -> set[NodeKey]:
    """The changed models and everything downstream of them, across both engines."""
    tested = set(changed)
    for key in changed:
        if key in graph.models_graph.nodes:
            tested.update(graph.models_graph.downstream_of(key))
    return tested


def input_models(graph: UnifiedGraph, tested: set[NodeKey]) -> set[NodeKey]:
    """What the tested models read, directly or not, that is not tested itself: it must be
    built (as it is) for them to build in a fresh warehouse."""
    parents: dict[NodeKey, list[NodeKey]] = {}
    for edge in graph.models_graph.edges:
        parents.setdefault(edge.downstream, []).append(edge.upstream)
    needed, stack = set(), list(tested)
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in needed and parent not in tested:
                needed.add(parent)
                stack.append(parent)
    return needed


def _engine_changes(
    project: Project, graph: UnifiedGraph, base_root: Path, environment: str | None, change: ChangeSet
) -> None:
    from airflow_provider_dualengine.compiled.artifact import compile_project, read_artifact
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.engines.dbt.manifest import modified_models

    try:
        base = load_project(base_root)
        compile_project(base, environment)
    except DualEngineConfigError as exc:
        change.everything = True
        change.reasons.append(
            f"the project at {change.since} does not compile ({exc.issues[0].message}): every model is tested"
        )
        return
    current, before = read_artifact(project, check_fresh=False), read_artifact(base, check_fresh=False)
    for name, model in sorted(current.sqlmesh.models.items()):
        old = before.sqlmesh.models.get(name)
        if old is None or model.data_hash is None or old.data_hash != model.data_hash:
            why = "new SQLMesh model" if old is None else "SQLMesh fingerprint changed"
            _mark(change, graph, (Engine.SQLMESH, name), why)
    models_file = project.artifact_path.with_suffix(".state.sqlmesh.json")
    models_file.write_text(
        json.dumps(
            {"sqlmesh": current.to_json()["sqlmesh"], "dbt": {"sqlmesh_suffix_var": current.dbt.sqlmesh_suffix_var}}
        ),
        encoding="utf-8",
    )
    try:
        modified = modified_models(project, base.dbt_manifest_path.parent, models_file, environment)
    finally:
        models_file.unlink(missing_ok=True)
    for name in modified:
        _mark(change, graph, (Engine.DBT, name), "dbt state:modified")


def _file_changes(project: Project, graph: UnifiedGraph, files: list[str], change: ChangeSet) -> None:
    """Contracts and check files: they change what is checked, not what is built."""
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.cross_engine_checks import CHECKS_FOLDER, load_cross_engine_checks
    from airflow_provider_dualengine.graph.names import UnknownModel, resolve_model

    contracts_folder = project.contracts_path.resolve().relative_to(project.root.resolve()).as_posix()
    changed = set(files)
    contracts, _ = load_contracts(project.contracts_path)
    for contract in contracts:
        if f"{contracts_folder}/{contract.file.name}" not in changed:
            continue
        for name in [f"{contract.model.producer}:{contract.model.name}", *contract.model.consumers]:
            try:
                _mark(change, graph, resolve_model(graph, name), f"contract {contract.file.name} changed")
            except UnknownModel:
                continue
    for check in load_cross_engine_checks(project):
        if f"{CHECKS_FOLDER}/{check.file.name}" not in changed:
            continue
        for name in check.spec.models():
            try:
                _mark(change, graph, resolve_model(graph, name), f"check {check.spec.name} ({check.file.name}) changed")
            except UnknownModel:
                continue


def _mark(change: ChangeSet, graph: UnifiedGraph, key: NodeKey, why: str) -> None:
    if key not in graph.models_graph.nodes or key in change.changed:
        return
    change.changed.add(key)
    change.reasons.append(f"{node_id(key)}: {why}")


# --- git: argument lists only, the ref checked before use ---------------------------------


def _git(root: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=not binary, check=False, timeout=GIT_TIMEOUT_S
        )
    except FileNotFoundError:
        raise _error(
            root, "git is not installed", "install git: --changed-since compares with a git revision"
        ) from None


def _error(where: Path | None, message: str, hint: str) -> DualEngineConfigError:
    return DualEngineConfigError([ConfigIssue(where, "--changed-since", message, hint)])


def _repository(project_root: Path) -> tuple[Path, str]:
    """(the repository's top folder, the project's path in it, '' at the top)."""
    result = _git(project_root, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise _error(
            project_root, "the project is not in a git repository", "run it in a clone, or leave out --changed-since"
        )
    root = Path(result.stdout.strip())
    prefix = project_root.resolve().relative_to(root.resolve()).as_posix()
    return root, "" if prefix == "." else prefix


def _commit(root: Path, ref: str) -> str:
    if not ref or ref.startswith("-") or any(c.isspace() or ord(c) < 32 for c in ref):
        raise _error(None, f"'{ref}' is not a git revision", "give a branch, tag or commit, e.g. origin/main or HEAD~1")
    result = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise _error(
            root,
            f"git revision '{ref}' not found",
            "fetch it first (in CI: checkout with full history, e.g. actions/checkout fetch-depth: 0)",
        )
    return result.stdout.strip()


def _changed_files(root: Path, commit: str, prefix: str) -> list[str]:
    """Files of the project (relative to it) that differ from `commit`: committed,
    staged, unstaged or new and untracked."""
    scope = ["--", prefix or "."]
    diff = _git(
        root, "diff", "--name-only", "--no-renames", "--relative" + (f"={prefix}" if prefix else ""), commit, *scope
    )
    new = _git(root, "ls-files", "--others", "--exclude-standard", "--full-name", *scope)
    for result in (diff, new):
        if result.returncode != 0:
            raise _error(
                root, f"git could not compare with {commit[:12]}: {result.stderr.strip()}", "check the repository"
            )
    untracked = [str(PurePosixPath(p).relative_to(prefix)) if prefix else p for p in new.stdout.splitlines()]
    return sorted({*diff.stdout.splitlines(), *untracked})


def _base_copy(root: Path, commit: str, prefix: str, into: Path, settings_name: str) -> Path | None:
    """The project as it was at `commit`, extracted under `into`; None if it did not exist."""
    result = _git(root, "archive", "--format=tar", commit, "--", prefix or ".", binary=True)
    if result.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        archive.extractall(into, filter="data")
    base = into / prefix if prefix else into
    return base if (base / settings_name).is_file() else None
