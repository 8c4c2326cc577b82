"""Which models changed since a git revision, decided by each engine's own comparison.

The revision compared with is the merge base of GIT_REF and HEAD (what a pull request
changed, not what its target branch changed since). The project's files as they were
there (`git archive` of the project folder, both engines' folders, the contracts and the
config files; the user's work tree is not touched) are compiled like any project; then:

- SQLMesh: a model whose fingerprint (data and metadata hash: what SQLMesh's plan diff
  compares) differs from the base's, or that is new; a changed unit-test file selects the
  models its tests name;
- dbt: `dbt ls --select state:modified --state <base manifest>` over every resource type:
  a changed model; the model a changed test is attached to; the models reading a changed
  seed, snapshot or source. Plus every model whose relation moved (a `generate_schema_name`
  change, which dbt's state comparison does not see);
- a changed contract selects its producer and consumers, a changed check file in
  `shared/tests/` the models it names, and a changed dualengine.yml, dependency graph or
  environments file every model: their effect is not one model's.

The models to test are those plus everything downstream across both engines (the
impact analysis' walk); what they read is built too, as inputs.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.graph.lineage import NodeKey, node_id

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project
    from airflow_provider_dualengine.graph.model import UnifiedGraph

GIT_TIMEOUT_S = 120
EVERYTHING_FILES = ("settings", "dependency_graph", "environments")  # project.files keys


@dataclass
class ChangeSet:
    """What changed since `since`, and why each model counts as changed."""

    since: str
    changed: set[NodeKey] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)
    everything: bool = False


def changes_since(project: Project, graph: UnifiedGraph, ref: str, environment: str | None = None) -> ChangeSet:
    """The changed models of `project` (its work tree, committed or not) since git `ref`."""
    root = _repository(project.root)
    commit = _commit(root, ref)
    base = _merge_base(root, commit)
    paths = _project_paths(project, root)
    files = _changed_files(root, base, paths)
    change = ChangeSet(since=ref)
    if base == commit and _git(root, "merge-base", "--is-ancestor", commit, "HEAD").returncode != 0:
        change.reasons.append(f"no merge base of {ref} and HEAD (a shallow clone?): compared with {ref} itself")
    if not files:
        return change
    config_files = sorted(files & {_relative(project.files[k], root) for k in EVERYTHING_FILES if k in project.files})
    if config_files:
        change.everything = True
        change.reasons.append(f"{', '.join(config_files)} changed: every model is tested")
    with tempfile.TemporaryDirectory(prefix="dualengine-base-") as tmp:
        base_root = _base_copy(root, base, paths, Path(tmp), _relative(project.files["settings"], root))
        if base_root is None:
            change.everything = True
            change.reasons.append(f"the project does not exist at {ref}: every model is tested")
        else:
            _engine_changes(project, graph, root, base_root, environment, change)
    _file_changes(project, graph, root, files, change)
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
    project: Project, graph: UnifiedGraph, root: Path, base_root: Path, environment: str | None, change: ChangeSet
) -> None:
    from airflow_provider_dualengine.compiled.artifact import compile_project, read_artifact
    from airflow_provider_dualengine.config.project import load_project

    try:
        base = load_project(base_root)
        compile_project(base, environment)
    except DualEngineConfigError as exc:
        change.everything = True
        first = exc.issues[0].message if exc.issues else str(exc)
        change.reasons.append(f"the project at {change.since} does not compile ({first}): every model is tested")
        return
    current, before = read_artifact(project, check_fresh=False), read_artifact(base, check_fresh=False)
    for name, model in sorted(current.sqlmesh.models.items()):
        old = before.sqlmesh.models.get(name)
        if old is None:
            _mark(change, graph, (Engine.SQLMESH, name), "new SQLMesh model")
        elif model.data_hash is None or (old.data_hash, old.metadata_hash) != (model.data_hash, model.metadata_hash):
            what = "query" if old.data_hash != model.data_hash else "metadata (audits, start, grain...)"
            _mark(change, graph, (Engine.SQLMESH, name), f"SQLMesh fingerprint changed: {what}")
    if not _relative(project.dbt_path, root):
        for key in graph.models_graph.nodes:
            if key[0] is Engine.DBT:
                _mark(change, graph, key, "the dbt project is outside the repository: no revision to compare with")
        return
    _dbt_changes(project, graph, base, current, change, environment)


def _dbt_changes(
    project: Project, graph: UnifiedGraph, base: Project, current: Any, change: ChangeSet, environment: str | None
) -> None:
    from airflow_provider_dualengine.engines.dbt.catalog import read_manifest
    from airflow_provider_dualengine.engines.dbt.manifest import modified_nodes

    models_file = project.artifact_path.with_suffix(f".{os.getpid()}.state.sqlmesh.json")
    models_file.write_text(
        json.dumps(
            {"sqlmesh": current.to_json()["sqlmesh"], "dbt": {"sqlmesh_suffix_var": current.dbt.sqlmesh_suffix_var}}
        ),
        encoding="utf-8",
    )
    try:
        modified = modified_nodes(project, base.dbt_manifest_path.parent, models_file, environment)
    finally:
        models_file.unlink(missing_ok=True)
    manifest = read_manifest(project.dbt_manifest_path)
    nodes, children = manifest.get("nodes", {}), manifest.get("child_map", {})

    def models_of(unique_id: str) -> list[str]:
        """A model itself; for a seed, snapshot or source, the models reading it."""
        node = nodes.get(unique_id) or manifest.get("sources", {}).get(unique_id) or {}
        if unique_id.startswith("unit_test."):  # dbt unit tests live in their own section
            tested = manifest.get("unit_tests", {}).get(unique_id, {}).get("depends_on", {}).get("nodes", [])
            return [m for uid in tested if not uid.startswith("unit_test.") for m in models_of(uid)]
        if node.get("resource_type") == "model":
            return [node["name"]]
        if node.get("resource_type") in ("seed", "snapshot", "source"):
            return [
                nodes[c]["name"]
                for c in children.get(unique_id, [])
                if nodes.get(c, {}).get("resource_type") == "model"
            ]
        return []

    for node in modified:
        kind, unique_id = node.get("resource_type"), node.get("unique_id", "")
        if kind in ("test", "unit_test"):
            test = nodes.get(unique_id, {})
            tested = (
                [test["attached_node"]] if test.get("attached_node") else test.get("depends_on", {}).get("nodes", [])
            )
            tested = tested or [unique_id]  # a unit test: models_of looks it up
            why = f"its dbt test {node.get('name')} changed"
            names = [m for uid in tested for m in models_of(uid)]
        else:
            names = models_of(unique_id)
            why = "dbt state:modified" if kind == "model" else f"it reads the changed dbt {kind} {node.get('name')}"
        for name in names:
            _mark(change, graph, (Engine.DBT, name), why)
    before = read_manifest(base.dbt_manifest_path).get("nodes", {})
    for unique_id, node in nodes.items():
        old = before.get(unique_id)
        if node.get("resource_type") == "model" and old and old.get("relation_name") != node.get("relation_name"):
            why = f"its relation moved from {old.get('relation_name')} to {node.get('relation_name')}"
            _mark(change, graph, (Engine.DBT, node["name"]), why)


def _file_changes(project: Project, graph: UnifiedGraph, root: Path, files: set[str], change: ChangeSet) -> None:
    """Contracts, check files and SQLMesh unit tests: they change what is checked."""
    import yaml

    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.cross_engine_checks import load_cross_engine_checks
    from airflow_provider_dualengine.graph.names import UnknownModel, resolve_model

    def mark_named(name: str, why: str) -> None:
        try:
            _mark(change, graph, resolve_model(graph, name), why)
        except UnknownModel:
            pass

    contracts, _ = load_contracts(project.contracts_path)
    for contract in contracts:
        if _relative(contract.file, root) in files:
            for name in [f"{contract.model.producer}:{contract.model.name}", *contract.model.consumers]:
                mark_named(name, f"contract {contract.file.name} changed")
    for check in load_cross_engine_checks(project):
        if _relative(check.file, root) in files:
            for name in check.spec.models():
                mark_named(name, f"check {check.spec.name} ({check.file.name}) changed")
    tests = _relative(project.sqlmesh_path / "tests", root) + "/"
    for file in sorted(f for f in files if f.startswith(tests) and f.endswith((".yaml", ".yml"))):
        path = root / file
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
        except yaml.YAMLError:
            document = None
        for test in (document or {}).values() if isinstance(document, dict) else []:
            if isinstance(test, dict) and isinstance(test.get("model"), str):
                mark_named(f"sqlmesh:{test['model']}", f"its SQLMesh unit test file {Path(file).name} changed")


def _mark(change: ChangeSet, graph: UnifiedGraph, key: NodeKey, why: str) -> None:
    if key not in graph.models_graph.nodes or key in change.changed:
        return
    change.changed.add(key)
    change.reasons.append(f"{node_id(key)}: {why}")


# --- git: argument lists only, the ref checked before use ---------------------------------


def _git(root: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", "--literal-pathspecs", "-C", str(root), *args],
            capture_output=True,
            text=not binary,
            check=False,
            timeout=GIT_TIMEOUT_S,
        )
    except FileNotFoundError:
        raise _error(
            root, "git is not installed", "install git: --changed-since compares with a git revision"
        ) from None


def _error(where: Path | None, message: str, hint: str) -> DualEngineConfigError:
    return DualEngineConfigError([ConfigIssue(where, "--changed-since", message, hint)])


def _repository(project_root: Path) -> Path:
    """The top folder of the repository holding the project."""
    result = _git(project_root, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise _error(
            project_root, "the project is not in a git repository", "run it in a clone, or leave out --changed-since"
        )
    return Path(result.stdout.strip())


def _relative(path: Path, root: Path) -> str:
    """`path` relative to the repository ('' for a path outside it: nothing git tracks)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


def _project_paths(project: Project, root: Path) -> list[str]:
    """Everything the project reads, relative to the repository: its folder, both engines'
    folders, the contracts and config files (any of them may live outside the project folder)."""
    paths = [project.root, project.sqlmesh_path, project.dbt_path, project.contracts_path, *project.files.values()]
    relative = {_relative(p, root) for p in paths}
    relative.discard("")
    if "." in relative:  # the project is the repository
        return ["."]
    return sorted(p for p in relative if not any(p != q and p.startswith(f"{q}/") for q in relative)) or ["."]


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


def _merge_base(root: Path, commit: str) -> str:
    """Where HEAD's history left `commit`'s: a pull request's changes are those since then."""
    result = _git(root, "merge-base", commit, "HEAD")
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else commit


def _changed_files(root: Path, commit: str, paths: list[str]) -> set[str]:
    """Files under `paths` (repository-relative) that differ from `commit`: committed,
    staged, unstaged or new and untracked."""
    diff = _git(root, "diff", "-z", "--name-only", "--no-renames", commit, "--", *paths)
    new = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--full-name", "--", *paths)
    for result in (diff, new):
        if result.returncode != 0:
            raise _error(
                root, f"git could not compare with {commit[:12]}: {result.stderr.strip()}", "check the repository"
            )
    return {p for p in (diff.stdout + new.stdout).split("\0") if p}


def _base_copy(root: Path, commit: str, paths: list[str], into: Path, settings: str) -> Path | None:
    """The project's files as they were at `commit`, at the same place under `into`; the
    project folder there, or None if its settings file did not exist."""
    for path in paths:  # one by one: a folder added since `commit` is simply not there
        result = _git(root, "archive", "--format=tar", commit, "--", path, binary=True)
        if result.returncode == 0:
            with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
                archive.extractall(into, filter="data")
    settings_file = into / settings
    return settings_file.parent if settings_file.is_file() else None
