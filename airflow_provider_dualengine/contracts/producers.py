"""Which models of a graph carry a contract, and the contracts a DAG may be built with."""

from __future__ import annotations

from airflow_provider_dualengine.config.contracts import Contract, load_contracts
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.contracts.static import check_contracts
from airflow_provider_dualengine.graph import Engine, UnifiedGraph


def contracted_producers(contracts: list[Contract], graph: UnifiedGraph) -> dict[tuple[Engine, str], Contract]:
    """(engine, model) of each contract's producer that this graph renders."""
    placed = graph.placement()
    return {
        key: contract
        for contract in contracts
        for key in graph.models_graph.matching(f"{contract.model.producer}:{contract.model.name}")
        if key in placed
    }


def load_structurally_valid_contracts(project: Project, graph: UnifiedGraph) -> list[Contract]:
    """Contract files must be valid and name existing producers and consumers, or the DAG
    does not load (the import error names file, key and fix); column and type checks run
    in the DAG's first task instead, so a broken contract fails a run, not the DAG."""
    contracts, issues = load_contracts(project.contracts_path)
    if not issues:
        findings = check_contracts(contracts, graph, structural_only=True)
        issues = [ConfigIssue(f.file, f.key, f.message, f.hint) for f in findings if f.severity == "error"]
    if issues:
        raise DualEngineConfigError(issues)
    return contracts
