"""What engine selection, layer/naming lint and the unified docs know about each model.

One record per model of either project, gathered once from sources that already exist:
the compiled artifact (SQLMesh: kind, rendered query, description, tags, path; dbt: the
catalog), the dbt manifest it points to (description, tags, compiled SQL, language,
exposures), the model graph (upstream/downstream across engines), the contracts folder
(SLA) and, for a SQLMesh Python model, the imports of its file. Nothing here loads an
engine or touches a warehouse; run history is read separately (governance/history.py)
because it can be unavailable.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_dualengine.compiled.artifact import ArtifactProblem, read_artifact
from airflow_provider_dualengine.compiled.edges import NodeKey, node_id
from airflow_provider_dualengine.config.contracts import Contract, load_contracts
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.graph.lineage import ModelGraph, build_model_graph

SQLMESH_NODE_PREFIX = "model.sqlmesh."  # how the dbt_dualengine plugin names SQLMesh models in the manifest


@dataclass(frozen=True)
class Exposure:
    """A dbt exposure (dashboard, notebook, application) that reads a model."""

    name: str
    type: str  # dashboard | notebook | analysis | ml | application
    owner: str | None = None


@dataclass(frozen=True)
class ModelFacts:
    engine: Engine
    name: str  # SQLMesh `schema.table`; dbt model name
    path: Path | None  # file, relative to the project root (e.g. sqlmesh/models/raw/raw_orders.sql)
    kind: str | None  # SQLMesh kind (FULL, INCREMENTAL_BY_TIME_RANGE, SEED...) / dbt materialization
    schema: str | None  # SQLMesh schema; dbt's configured schema (before the target suffix)
    tags: tuple[str, ...] = ()
    description: str = ""
    description_source: str = ""  # where the description was written (file and key), "" when none
    query: str | None = None  # SQLMesh rendered query / dbt compiled SQL; None for Python/seed models
    dialect: str = "duckdb"
    python: bool = False  # SQLMesh Python model or dbt Python model
    imports: tuple[str, ...] = ()  # top-level modules a Python model imports
    exposures: tuple[Exposure, ...] = ()  # dbt exposures that depend on it
    upstream: tuple[NodeKey, ...] = ()  # direct inputs, both engines
    downstream: tuple[NodeKey, ...] = ()  # direct readers, both engines
    contracts: tuple[Contract, ...] = ()  # contracts this model produces (SLA, consumers)
    owner: str | None = None

    @property
    def key(self) -> NodeKey:
        return (self.engine, self.name)

    @property
    def node_id(self) -> str:
        """`sqlmesh:staging.stg_orders` / `dbt:customer_value`."""
        return node_id(self.key)

    @property
    def short_name(self) -> str:
        """The table name without its schema (what naming prefixes apply to)."""
        return self.name.rsplit(".", 1)[-1]


@dataclass
class ProjectFacts:
    project: Project
    models: dict[NodeKey, ModelFacts] = field(default_factory=dict)
    graph: ModelGraph = field(default_factory=ModelGraph)

    def __iter__(self):
        return iter(self.models.values())


def load_facts(project: Project) -> ProjectFacts:
    """Every model's facts; DualEngineConfigError when the artifact is missing, stale or
    compiled by a provider that did not record descriptions yet (fix: recompile), or when
    a contract file is broken."""
    fix = f"run `dualengine compile {project.root}`"
    try:
        artifact = read_artifact(project)
    except ArtifactProblem as exc:
        raise DualEngineConfigError([ConfigIssue(project.files["settings"], "compiled", str(exc), fix)]) from None
    if artifact.sqlmesh.models and not all("tags" in m.model_fields_set for m in artifact.sqlmesh.models.values()):
        raise DualEngineConfigError(
            [
                ConfigIssue(
                    project.artifact_path,
                    "sqlmesh.models",
                    "the compiled artifact was written by an older provider: it has no SQLMesh descriptions, tags or rendered queries",
                    fix,
                )
            ]
        )
    manifest_path = project.root / artifact.dbt.manifest
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DualEngineConfigError(
            [ConfigIssue(project.files["settings"], "dbt.manifest", f"dbt manifest {manifest_path}: {exc}", fix)]
        ) from None
    contracts, issues = load_contracts(project.contracts_path)
    if issues:
        raise DualEngineConfigError(issues)
    catalogs = artifact.catalogs(project.root, project.sqlmesh_path)
    graph = build_model_graph(catalogs, project.settings.dbt.schema_)
    upstream: dict[NodeKey, list[NodeKey]] = {k: [] for k in graph.nodes}
    downstream: dict[NodeKey, list[NodeKey]] = {k: [] for k in graph.nodes}
    for edge in graph.edges:
        if edge.upstream in graph.nodes and edge.downstream in graph.nodes:
            upstream[edge.downstream].append(edge.upstream)
            downstream[edge.upstream].append(edge.downstream)
    produced: dict[NodeKey, list[Contract]] = {}
    for contract in contracts:
        matches = [k for k in graph.matching(f"{contract.model.producer}:{contract.model.name}")]
        for key in matches[:1]:
            produced.setdefault(key, []).append(contract)
    exposures = _exposures(manifest)
    facts = ProjectFacts(project=project, graph=graph)
    sqlmesh_folder = (
        project.sqlmesh_path.relative_to(project.root) if _inside(project.sqlmesh_path, project.root) else None
    )
    for name, entry in artifact.sqlmesh.models.items():
        key = (Engine.SQLMESH, name)
        path = Path(entry.path) if entry.path else None
        description, source = _sqlmesh_description(entry.description, project.sqlmesh_path / path if path else None)
        facts.models[key] = ModelFacts(
            engine=Engine.SQLMESH,
            name=name,
            path=(sqlmesh_folder / path) if (path and sqlmesh_folder is not None) else path,
            kind=entry.kind,
            schema=name.split(".")[0] if "." in name else None,
            tags=tuple(entry.tags),
            description=description,
            description_source=source,
            query=entry.query,
            dialect=entry.dialect or "duckdb",
            python=entry.python,
            imports=_python_imports(project.sqlmesh_path / path) if (entry.python and path) else (),
            exposures=tuple(exposures.get(f"{SQLMESH_NODE_PREFIX}{name}", ())),
            upstream=tuple(sorted(upstream.get(key, []))),
            downstream=tuple(sorted(downstream.get(key, []))),
            contracts=tuple(produced.get(key, ())),
            owner=entry.owner,
        )
    dbt_folder = project.dbt_path.relative_to(project.root) if _inside(project.dbt_path, project.root) else None
    dialect = manifest.get("metadata", {}).get("adapter_type") or "duckdb"
    for name, model in catalogs[Engine.DBT].models.items():
        key = (Engine.DBT, name)
        node = manifest.get("nodes", {}).get(model.unique_id or "", {})
        path = Path(node["original_file_path"]) if node.get("original_file_path") else model.path
        description = (node.get("description") or "").strip()
        python = node.get("language") == "python"
        facts.models[key] = ModelFacts(
            engine=Engine.DBT,
            name=name,
            path=(dbt_folder / path) if (path and dbt_folder is not None) else path,
            kind=model.kind,
            schema=(node.get("config") or {}).get("schema") or node.get("schema"),
            tags=tuple(sorted(node.get("tags") or ())),
            description=description,
            description_source=f"{node.get('patch_path', '').split('://')[-1] or path}: description"
            if description
            else "",
            query=None
            if python
            else _without_ephemeral_ctes(node.get("compiled_code"), node.get("extra_ctes") or [], dialect),
            dialect=dialect,
            python=python,
            imports=_python_imports_text(node.get("raw_code") or "") if python else (),
            exposures=tuple(exposures.get(model.unique_id or "", ())),
            upstream=tuple(sorted(upstream.get(key, []))),
            downstream=tuple(sorted(downstream.get(key, []))),
            contracts=tuple(produced.get(key, ())),
            owner=model.owner,
        )
    return facts


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def _exposures(manifest: dict) -> dict[str, list[Exposure]]:
    """manifest node id -> the exposures that depend on it (dbt's `exposures:`)."""
    found: dict[str, list[Exposure]] = {}
    for exposure in (manifest.get("exposures") or {}).values():
        owner = exposure.get("owner") or {}
        item = Exposure(exposure.get("name", ""), exposure.get("type", ""), owner.get("email") or owner.get("name"))
        for dep in (exposure.get("depends_on") or {}).get("nodes", []):
            found.setdefault(dep, []).append(item)
    return found


def _sqlmesh_description(declared: str | None, file: Path | None) -> tuple[str, str]:
    """SQLMesh's `description` property, else the comment lines heading a SQL model's file
    (before MODEL), else the docstring of a Python model's @model function: where SQLMesh users already write it."""
    if declared and declared.strip():
        return " ".join(declared.split()), f"{file.name if file else 'model'}: description"
    if file is None or not file.is_file():
        return "", ""
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".py":
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return "", ""
        for node in ast.walk(tree):  # the @model function's own docstring, never a helper's
            if isinstance(node, ast.FunctionDef) and any(_is_model_decorator(d) for d in node.decorator_list):
                doc = ast.get_docstring(node)
                return (" ".join(doc.split()), f"{file.name}: docstring of {node.name}") if doc else ("", "")
        return "", ""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("--"):
            lines.append(stripped.lstrip("-").strip())
        elif stripped:
            break
    comment = " ".join(x for x in lines if x)
    return (comment, f"{file.name}: leading comment") if comment else ("", "")


def _is_model_decorator(node: ast.expr) -> bool:
    """`@model(...)` / `@sqlmesh.model(...)`: how SQLMesh marks a Python model's function."""
    target = node.func if isinstance(node, ast.Call) else node
    return (isinstance(target, ast.Name) and target.id == "model") or (
        isinstance(target, ast.Attribute) and target.attr == "model"
    )


def _without_ephemeral_ctes(sql: str | None, ctes: list[dict], dialect: str) -> str | None:
    """dbt's compiled SQL without the CTEs it injects for ephemeral models (`__dbt__cte__x`):
    their logic belongs to the ephemeral model, not to every model reading it."""
    if not sql or not ctes:
        return sql
    import sqlglot
    from sqlglot import exp

    names = {str(c.get("id", "")).rsplit(".", 1)[-1] for c in ctes}
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.ParseError:
        return sql
    for cte in list(tree.find_all(exp.CTE)):
        if cte.alias_or_name.removeprefix("__dbt__cte__") in names and cte.alias_or_name.startswith("__dbt__cte__"):
            cte.pop()
    for with_ in list(tree.find_all(exp.With)):
        if not with_.expressions:
            with_.pop()
    return tree.sql(dialect=dialect)


def _python_imports(file: Path) -> tuple[str, ...]:
    try:
        return _python_imports_text(file.read_text(encoding="utf-8"))
    except OSError:
        return ()


def _python_imports_text(text: str) -> tuple[str, ...]:
    """Top-level package names imported anywhere in a Python model (`sklearn`, `numpy`)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return ()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return tuple(sorted(names))


def matching_models(facts: Iterable[ModelFacts], pattern: str) -> list[ModelFacts]:
    """Models a glob names: matched against `engine:name`, the full name, the short name,
    `schema.name` of a dbt model (its configured schema: dbt names carry none) and the
    model's file relative to the project, so `simple_reporting.*`, `dbt:bi_*`,
    `customer_scoring`, `marts.*` (a dbt model with `schema: marts`) and `dbt/models/marts/*`
    all work."""
    from fnmatch import fnmatchcase

    def names(m: ModelFacts) -> list[str]:
        found = [m.node_id, m.name, m.short_name]
        if m.engine is Engine.DBT and m.schema:
            found.append(f"{m.schema}.{m.name}")
        if m.path is not None:
            found.append(m.path.as_posix())
        return found

    return [m for m in facts if any(fnmatchcase(name, pattern) for name in names(m))]
