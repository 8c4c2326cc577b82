"""`dualengine test`: build a project in a throwaway warehouse and run the cross-engine
tests on it (testing/checks.py), optionally only for what changed since a git revision
(testing/changes.py).

Order: compile and validate (a project that does not load fails before anything is
built), read the performance baseline from the configured warehouse's run history (before
the connection is pointed elsewhere), then build and check inside the throwaway warehouse.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.graph.lineage import NodeKey, node_id
from airflow_provider_dualengine.testing.results import Case, TestReport

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project
    from airflow_provider_dualengine.graph.model import UnifiedGraph

BASELINE_DAYS = 30


def run_tests(
    project_dir: str | Path | None,
    environment: str | None = None,
    *,
    changed_since: str | None = None,
    max_slowdown: float | None = None,
) -> TestReport:
    from airflow_provider_dualengine.compiled.artifact import compile_project, read_artifact
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.cross_engine_checks import load_cross_engine_checks
    from airflow_provider_dualengine.config.errors import DualEngineConfigError
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph, load_catalogs
    from airflow_provider_dualengine.graph.validation import validate_project
    from airflow_provider_dualengine.testing import checks
    from airflow_provider_dualengine.testing.changes import changes_since, input_models, tested_models
    from airflow_provider_dualengine.testing.throwaway import build, require_duckdb, throwaway_warehouse

    project = load_project(project_dir)
    env = project.environment(environment)
    require_duckdb(project)
    compile_project(project, env.name)
    catalogs, problems = load_catalogs(project)
    if problems:
        raise DualEngineConfigError(problems)
    graph = build_graph(project, catalogs)
    contracts, issues = load_contracts(project.contracts_path)
    if issues:
        raise DualEngineConfigError(issues)
    user_checks = load_cross_engine_checks(project)
    unknown = checks.unknown_model_issues(user_checks, graph)
    if unknown:
        raise DualEngineConfigError(unknown)
    everything = set(graph.models_graph.nodes)
    report = TestReport(str(project.root), env.name, "a throwaway DuckDB file")
    if changed_since:
        change = changes_since(project, graph, changed_since, env.name)
        tested = tested_models(graph, change.changed)
        report.selection = {"since": changed_since, "changed": _ids(change.changed), "reasons": change.reasons}
    else:
        tested = everything
        report.selection = {"since": None}
    inputs = input_models(graph, tested)
    report.selection |= {
        "tested": _ids(tested),
        "inputs": _ids(inputs),
        "skipped": _ids(everything - tested - inputs),
    }
    validation = validate_project(project, read_artifact(project), catalogs, env)
    contract_findings = _contract_findings(project, graph)
    baseline = _baseline(project, graph, env.name) if tested else "nothing to build"
    if not tested:
        report.add(checks.dependency_cases(_empty_scope(project, graph, env), validation, contract_findings))
        return report
    run_id = f"test_{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:6]}"
    with throwaway_warehouse(project):
        built = build(project, graph, env.name, tested | inputs, run_id)
        scope = checks.Scope(project, graph, env, tested, built)
        report.add(checks.engine_cases(scope))
        with _warehouse(project) as warehouse:
            report.add(checks.contract_cases(scope, contracts, contract_findings, warehouse))
            report.add(checks.read_cases(scope, _reads(project, graph), warehouse))
            report.add(checks.consistency_cases(scope, user_checks, warehouse))
    report.add(checks.performance_cases(scope, baseline, checks.MAX_SLOWDOWN if max_slowdown is None else max_slowdown))
    report.add(checks.dependency_cases(scope, validation, contract_findings))
    return report


def _ids(keys: set[NodeKey]) -> list[str]:
    return sorted(node_id(k) for k in keys)


def _contract_findings(project: Project, graph: UnifiedGraph) -> list[Any]:
    from airflow_provider_dualengine.contracts.static import check_project_contracts

    _, findings = check_project_contracts(project, graph)
    return findings


def _reads(project: Project, graph: UnifiedGraph) -> dict[NodeKey, list[Any]]:
    from airflow_provider_dualengine.compiled.artifact import read_artifact
    from airflow_provider_dualengine.contracts.static import project_reads

    return project_reads(project, graph, read_artifact(project, check_fresh=False))[1]


def _baseline(project: Project, graph: UnifiedGraph, environment: str) -> dict[NodeKey, Any] | str:
    """Per model, the run-history estimate (median of recent successful runs) of the
    configured warehouse; a string saying why there is none when it cannot be read."""
    from airflow_provider_dualengine.monitoring.metrics import read_history
    from airflow_provider_dualengine.resources.plan import history_by_model, model_estimate, unreadable_reason

    since = datetime.now(UTC) - timedelta(days=BASELINE_DAYS)
    try:
        rows, _ = read_history(project.settings.warehouse.conn_id, since, environment)
    except Exception as exc:  # noqa: BLE001 - no baseline is a skipped category, not an error
        return f"no run history to compare with (warehouse '{project.settings.warehouse.conn_id}' unreadable: {unreadable_reason(exc)})"
    by_model = {k: v for k, v in history_by_model(rows, environment).items() if k in graph.models_graph.nodes}
    if not by_model:
        return f"no run history of environment '{environment}' in the last {BASELINE_DAYS} days"
    return {key: model_estimate(history) for key, history in by_model.items()}


def _warehouse(project: Project) -> Any:
    from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

    return WarehouseHook(project.settings.warehouse.conn_id).session(autocommit=True)


def _empty_scope(project: Project, graph: UnifiedGraph, env: Any) -> Any:
    from airflow_provider_dualengine.testing.checks import Scope
    from airflow_provider_dualengine.testing.throwaway import BuildResult

    return Scope(project, graph, env, set(), BuildResult())


__all__ = ["Case", "TestReport", "run_tests"]
