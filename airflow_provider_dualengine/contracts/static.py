"""Static contract checks: contracts against what the engines' projects say, before anything runs.

Reads the compiled artifact only (no warehouse, no engine run), so it fits a CI step
before deploy and the DAG factory's parse-time validation:

- the producer exists and is a model of the engine the contract names;
- every consumer exists (an engine, a model of either project, or `external:<system>`);
- the producer's columns and types (SQLMesh `columns_to_types`, or the types a dbt model
  declares) keep every promise: a missing column, a narrowed or different type is an error,
  a wider type a warning;
- SQLMesh consumers (column lineage) read only promised columns, and not deprecated ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.compiled.document import CompiledArtifact
from airflow_provider_dualengine.config.contracts import Contract
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.contracts.types import Compatibility, compare
from airflow_provider_dualengine.graph import Engine, UnifiedGraph

ENGINES = {e.value for e in Engine}
EXTERNAL_PREFIX = "external:"


@dataclass(frozen=True)
class Finding:
    file: Path
    key: str
    model: str
    severity: str  # "error" or "warning"
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "file": str(self.file)}

    def __str__(self) -> str:
        hint = f"\n    fix: {self.hint}" if self.hint else ""
        return f"{self.severity}: {self.file.name}: {self.key}: {self.message}{hint}"


def check_contracts(
    contracts: list[Contract],
    graph: UnifiedGraph,
    column_reads: dict[tuple[Engine, str], dict[str, set[str]]] | None = None,
    dialects: dict[str, str] | None = None,
    structural_only: bool = False,
) -> list[Finding]:
    """Every finding for every contract. `column_reads`: producer -> {consumer id: columns
    read} (from SQLMesh column lineage); `dialects`: engine -> dialect of its column types.
    `structural_only`: producer and consumers exist (what DAG parsing checks)."""
    findings: list[Finding] = []
    for contract in contracts:
        findings.extend(_check_one(contract, graph, (column_reads or {}), dialects or {}, structural_only))
    return findings


def _check_one(
    contract: Contract, graph: UnifiedGraph, column_reads: dict, dialects: dict[str, str], structural_only: bool = False
) -> list[Finding]:
    spec = contract.model
    out: list[Finding] = []

    def add(key: str, severity: str, message: str, hint: str = "") -> None:
        out.append(Finding(contract.file, contract.key(*([key] if key else [])), spec.name, severity, message, hint))

    for index, consumer in enumerate(spec.consumers):
        if consumer in ENGINES or consumer.startswith(EXTERNAL_PREFIX):
            continue
        if not graph.models_graph.matching(consumer):
            add(
                f"consumers[{index}]",
                "error",
                f"consumer '{consumer}' is neither an engine (sqlmesh, dbt) nor a model of either project",
                "name a model, an engine, or a system outside both projects as external:<name>",
            )
    matches = graph.models_graph.matching(spec.name)
    producer = [m for m in matches if m[0].value == spec.producer]
    if not producer:
        other = ", ".join(f"{e.value}:{n}" for e, n in matches)
        if other:
            add(
                "producer",
                "error",
                f"producer is '{spec.producer}', but {spec.name} is a model of another engine ({other})",
                f"set producer to {matches[0][0].value}",
            )
        else:
            add(
                "name",
                "error",
                f"{spec.name} is not a model of the {spec.producer} project",
                "use the model's full name (schema.table for SQLMesh, the model name for dbt)",
            )
    if structural_only or not producer:
        return out
    key = producer[0]
    node = graph.models_graph.nodes[key]
    actual = {c.lower(): t for c, t in node.columns.items()}
    dialect = dialects.get(key[0].value, "duckdb")
    for index, column in enumerate(spec.columns):
        where = f"columns[{index}]"
        if column.name.lower() not in actual:
            if actual:
                add(
                    where,
                    "error",
                    f"column '{column.name}' is promised but {key[0].value} model {key[1]} does not produce it (it has: {', '.join(sorted(actual))})",
                    "add the column to the model, or bump the contract's major version and remove it",
                )
            continue
        real = actual[column.name.lower()]
        if not real:
            add(
                where,
                "warning",
                f"column '{column.name}': {key[1]} does not declare a type, so the contract's {column.data_type} cannot be checked before run time",
                "declare data_type on the dbt model's column",
            )
            continue
        verdict = compare(column.data_type, real, dialect)
        if verdict in (Compatibility.NARROWER, Compatibility.DIFFERENT):
            add(
                f"{where}.data_type",
                "error",
                f"column '{column.name}' is promised as {column.data_type} but {key[1]} produces {real} ({verdict.value})",
                "restore the type in the model, or change the contract with a major version bump",
            )
        elif verdict is Compatibility.WIDER:
            add(
                f"{where}.data_type",
                "warning",
                f"column '{column.name}' is promised as {column.data_type} but {key[1]} produces the wider {real}",
                "widen the contract's data_type if consumers can take it",
            )
    if not actual:
        add(
            "columns",
            "warning",
            f"{key[0].value} model {key[1]} reports no columns, so the contract's columns cannot be checked before run time",
            "",
        )
    for consumer, columns in sorted(column_reads.get(key, {}).items()):
        for name in sorted(columns):
            promised = spec.column(name)
            if promised is None:
                add(
                    "columns",
                    "error",
                    f"consumer {consumer} reads column '{name}', which the contract does not promise",
                    f"add '{name}' to the contract, or stop reading it in {consumer}",
                )
            elif promised.deprecated:
                add(
                    "columns",
                    "warning",
                    f"consumer {consumer} still reads deprecated column '{name}'",
                    f"move {consumer} off '{name}' before it is removed",
                )
    return out


def sqlmesh_column_reads(
    artifact: CompiledArtifact, graph: UnifiedGraph, dbt_base_schema: str | None
) -> dict[tuple[Engine, str], dict[str, set[str]]]:
    """producer (engine, model) -> {consumer id -> columns of the producer it reads}, from
    the column lineage SQLMesh reports for its SQL models."""
    models = artifact.sqlmesh.models
    tables: dict[str, tuple[Engine, str]] = {}
    for (engine, name), node in graph.models_graph.nodes.items():
        if engine is Engine.SQLMESH:
            tables[name.lower()] = (engine, name)
        elif node.relation:  # SQLMesh names a dbt table by its production schema
            tables[node.relation.lower()] = (engine, name)
            if dbt_base_schema:
                tables[f"{dbt_base_schema}.{node.relation.split('.')[-1]}".lower()] = (engine, name)
    reads: dict[tuple[Engine, str], dict[str, set[str]]] = {}
    for consumer, spec in models.items():
        for sources in spec.column_lineage.values():
            for source in sources:
                table, _, column = source.rpartition(".")
                producer = tables.get(table.lower())
                if producer and producer != (Engine.SQLMESH, consumer):
                    reads.setdefault(producer, {}).setdefault(f"sqlmesh:{consumer}", set()).add(column)
    return reads


def check_project_contracts(
    project: Project, graph: UnifiedGraph | None = None
) -> tuple[list[Contract], list[Finding]]:
    """Load the project's contracts and check them against its compiled artifact.
    Raises DualEngineConfigError when a contract file itself is invalid."""
    from airflow_provider_dualengine.compiled.artifact import read_artifact
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.errors import DualEngineConfigError
    from airflow_provider_dualengine.graph import build_graph

    contracts, issues = load_contracts(project.contracts_path)
    if issues:
        raise DualEngineConfigError(issues)
    graph = graph or build_graph(project)
    artifact = read_artifact(project, check_fresh=False)
    sqlmesh_dialects = {m.dialect for m in artifact.sqlmesh.models.values() if m.dialect is not None}
    dialects = {
        "sqlmesh": next(iter(sqlmesh_dialects)) if len(sqlmesh_dialects) == 1 else "duckdb",
        "dbt": project.settings.warehouse.type,
    }
    reads = sqlmesh_column_reads(artifact, graph, project.settings.dbt.schema_)
    return contracts, check_contracts(contracts, graph, reads, dialects)
