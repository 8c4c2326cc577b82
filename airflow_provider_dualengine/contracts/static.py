"""Static contract checks: contracts against what the engines' projects say, before anything runs.

Reads the compiled artifact only (no warehouse, no engine run), so it fits a CI step
before deploy and the DAG's first task:

- the producer exists and is a model of the engine the contract names;
- every consumer exists (an engine, a model of either project, or `external:<system>`);
- the producer's columns and types (SQLMesh `columns_to_types`, or the types a dbt model
  declares) keep every promise: a missing column, a narrowed or different type is an error,
  a wider type a warning;
- the freshness SLA can be measured (`contracts.freshness`);
- each model reading the producer, in either engine, reads only promised columns
  (`contracts.consumers`, from the columns its SQL uses): an unpromised column is a warning,
  an error when the contract is `closed`; a deprecated column is a warning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.contracts import Contract
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.contracts.types import Compatibility, compare
from airflow_provider_dualengine.graph import Engine, UnifiedGraph

if TYPE_CHECKING:
    from airflow_provider_dualengine.compiled.document import CompiledArtifact
    from airflow_provider_dualengine.contracts.consumers import ConsumerRead, NodeKey
    from airflow_provider_dualengine.engines.catalog import CatalogModel

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
    consumer_reads: dict[tuple[Engine, str], list[ConsumerRead]] | None = None,
    dialects: dict[str, str] | None = None,
    structural_only: bool = False,
    catalog_models: dict[tuple[Engine, str], CatalogModel] | None = None,
) -> list[Finding]:
    """Every finding for every contract. `consumer_reads`: producer -> what each model
    reading it reads (`contracts.consumers`); `dialects`: engine -> dialect of its column
    types; `catalog_models`: what the engines report per model (kind, cron), for the
    freshness rules. `structural_only`: producer and consumers exist (what DAG parsing checks)."""
    findings: list[Finding] = []
    for contract in contracts:
        findings.extend(
            _check_one(contract, graph, consumer_reads or {}, dialects or {}, structural_only, catalog_models or {})
        )
    return findings


def _check_one(
    contract: Contract,
    graph: UnifiedGraph,
    consumer_reads: dict[tuple[Engine, str], list[ConsumerRead]],
    dialects: dict[str, str],
    structural_only: bool,
    catalog_models: dict[tuple[Engine, str], CatalogModel],
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
    from airflow_provider_dualengine.contracts.consumers import consumer_findings
    from airflow_provider_dualengine.contracts.freshness import freshness_findings

    for where, severity, message, hint in freshness_findings(spec, key, actual, catalog_models.get(key)):
        add(where, severity, message, hint)
    for where, severity, message, hint in consumer_findings(spec, key, consumer_reads.get(key, [])):
        add(where, severity, message, hint)
    return out


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
    models, reads = project_reads(project, graph, artifact)
    return contracts, check_contracts(contracts, graph, reads, dialects, catalog_models=models)


def project_reads(
    project: Project, graph: UnifiedGraph, artifact: CompiledArtifact
) -> tuple[dict[NodeKey, CatalogModel], dict[NodeKey, list[ConsumerRead]]]:
    """(every model of both engines as compiled, producer -> what each direct reader reads)."""
    from airflow_provider_dualengine.contracts.consumers import consumer_reads

    catalogs = artifact.catalogs(project.root, project.sqlmesh_path)
    models = {(engine, name): model for engine, catalog in catalogs.items() for name, model in catalog.models.items()}
    return models, consumer_reads(graph, models, project.settings.dbt.schema_, artifact.dbt.columns_read_problem)
