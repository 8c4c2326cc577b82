"""The four categories of the seed's CrossEngineTestSuite, plus the engines' own tests, as
test cases over a throwaway build (testing/throwaway.py).

- engine_tests: each model's build with its dbt tests or SQLMesh audits, SQLMesh's unit tests;
- schema_compatibility: each contract against the compiled projects (both directions) and
  against the relation actually built, and each cross-engine read's columns against the
  relation built upstream;
- data_consistency: the reconciliation checks of `shared/tests/` (config/cross_engine_checks.py);
- performance_regression: each built model's time against its run-history baseline;
- dependency_validation: the project's validation (stages, gateways, sources), each stage
  after the stages it reads from, the contracts' freshness rules.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.lineage import NodeKey, node_id
from airflow_provider_dualengine.testing.results import Case, verdict
from airflow_provider_dualengine.testing.throwaway import BuildResult

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.contracts import Contract
    from airflow_provider_dualengine.config.cross_engine_checks import CrossEngineCheck
    from airflow_provider_dualengine.config.errors import ConfigIssue
    from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment
    from airflow_provider_dualengine.graph.model import UnifiedGraph
    from airflow_provider_dualengine.hooks.warehouse import Warehouse

MAX_SLOWDOWN = 2.0  # a model taking more than this times its baseline ...
MIN_SLOWER_S = 1.0  # ... and at least this many seconds more is a regression


@dataclass
class Scope:
    """What this run is about: the tested models, and what was built for them."""

    project: Project
    graph: UnifiedGraph
    env: ResolvedEnvironment
    tested: set[NodeKey]
    build: BuildResult

    def built(self, key: NodeKey) -> bool:
        """Whether its relation exists to be read (it may have failed its own tests)."""
        outcome = self.build.outcomes.get(key)
        return outcome is not None and outcome.exists

    def relation(self, key: NodeKey) -> tuple[str, str]:
        from airflow_provider_dualengine.graph.relations import model_relation

        return model_relation(self.project, key[0], key[1], self.graph.models_graph.relation_of(key), self.env)

    def key(self, name: str) -> NodeKey:
        from airflow_provider_dualengine.graph.names import resolve_model

        return resolve_model(self.graph, name)


def engine_cases(scope: Scope) -> list[Case]:
    cases = []
    for key in sorted(scope.tested, key=node_id):
        outcome = scope.build.outcomes.get(key)
        name = f"build {node_id(key)}"
        if outcome is None:
            cases.append(Case("engine_tests", name, "skipped", "not built (no stage runs it)", (node_id(key),)))
        elif outcome.status == "built":
            seconds = scope.build.seconds.get(key, 0.0)
            cases.append(Case("engine_tests", name, "passed", outcome.message, (node_id(key),), seconds=seconds))
        else:
            message = "\n".join([outcome.message, *outcome.tests_failed])
            cases.append(Case("engine_tests", name, "failed", message, (node_id(key),)))
    for test, failure in scope.build.unit_tests:
        status = verdict(failure)
        cases.append(Case("engine_tests", f"SQLMesh unit test {test}", status, failure or ""))
    return cases


def contract_cases(scope: Scope, contracts: list[Contract], findings: list[Any], warehouse: Warehouse) -> list[Case]:
    """Per contract in scope: the static check, then the built relation against it."""
    from airflow_provider_dualengine.contracts.runtime import check_contract

    cases = []
    for contract in contracts:
        keys = _contract_models(scope, contract)
        if not keys & scope.tested:
            continue
        models = tuple(node_id(k) for k in sorted(keys, key=node_id))
        file = _relative(scope.project, contract.file)
        mine = [
            f for f in findings if f.file == contract.file and f.severity == "error" and not f.key.startswith("sla")
        ]
        cases.append(
            Case(
                "schema_compatibility",
                f"contract {contract.file.name}: {contract.model.name} as the engines declare it",
                verdict(mine),
                "\n".join(str(f) for f in mine),
                models,
                file,
            )
        )
        producer = _producer(scope, contract)
        name = f"contract {contract.file.name}: the relation built for {contract.model.name}"
        if producer is None or not scope.built(producer):
            why = "its producer was not built" if producer is not None else "its producer is no model of the project"
            cases.append(Case("schema_compatibility", name, "skipped", why, models, file))
            continue
        schema, table = scope.relation(producer)
        started = time.monotonic()
        now = datetime.now(UTC)
        report = check_contract(
            warehouse, schema, table, contract.model, now, now, last_update_source="this test's build"
        )
        status = verdict(not report.passed)
        cases.append(
            Case(
                "schema_compatibility",
                name,
                status,
                "" if report.passed else report.summary(),
                models,
                file,
                time.monotonic() - started,
            )
        )
    return cases


def read_cases(scope: Scope, reads: Mapping[NodeKey, list[Any]], warehouse: Warehouse) -> list[Case]:
    """Each cross-engine read in scope: the columns the consumer reads exist upstream."""
    from airflow_provider_dualengine.contracts.runtime import live_columns

    cases = []
    for edge in scope.graph.models_graph.cross_engine_edges():
        up, down = edge.upstream, edge.downstream
        if down not in scope.tested:
            continue
        read = next((r for r in reads.get(up, []) if r.consumer == node_id(down)), None)
        name = f"{node_id(down)} reads {node_id(up)}"
        models = (node_id(up), node_id(down))
        if not scope.built(up):
            cases.append(Case("schema_compatibility", name, "skipped", f"{node_id(up)} was not built", models))
            continue
        if read is None or read.columns is None:
            why = read.why_unknown if read is not None else "no column-level read recorded"
            cases.append(Case("schema_compatibility", name, "skipped", f"columns read unknown: {why}", models))
            continue
        columns = {c.lower() for c in live_columns(warehouse, *scope.relation(up))}
        missing = sorted(read.columns - columns)
        message = (
            f"{node_id(down)} reads {', '.join(missing)} from {node_id(up)}, which has no such column "
            f"(it has: {', '.join(sorted(columns)) or 'no relation'})"
            if missing
            else ""
        )
        cases.append(Case("schema_compatibility", name, verdict(missing), message, models))
    return cases


def consistency_cases(scope: Scope, checks: list[CrossEngineCheck], warehouse: Warehouse) -> list[Case]:
    from airflow_provider_dualengine.graph.names import UnknownModel

    cases = []
    for check in checks:
        spec = check.spec
        file = _relative(scope.project, check.file)
        try:
            keys = [scope.key(name) for name in spec.models()]
        except UnknownModel as exc:
            cases.append(Case("data_consistency", spec.name, "failed", f"{check.key}: {exc}", (), file))
            continue
        if not set(keys) & scope.tested:
            continue
        models = tuple(dict.fromkeys(node_id(k) for k in keys))
        unbuilt = [node_id(k) for k in keys if not scope.built(k)]
        if unbuilt:
            cases.append(
                Case("data_consistency", spec.name, "skipped", f"not built: {', '.join(unbuilt)}", models, file)
            )
            continue
        started = time.monotonic()
        try:
            problem = _run_check(scope, check, keys, warehouse)
        except Exception as exc:  # noqa: BLE001 - a query the warehouse rejects fails this check only
            problem = f"the check's query failed: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        if problem and spec.severity == "warning":
            cases.append(Case("data_consistency", spec.name, "passed", f"warning: {problem}", models, file))
            continue
        status = verdict(problem)
        cases.append(
            Case("data_consistency", spec.name, status, problem or "", models, file, time.monotonic() - started)
        )
    return cases


def unknown_model_issues(checks: list[CrossEngineCheck], graph: UnifiedGraph) -> list[ConfigIssue]:
    """A check naming a model the project does not have (or an ambiguous short name), as
    an issue at its key: found before anything is built."""
    from airflow_provider_dualengine.config.cross_engine_checks import SqlCheck
    from airflow_provider_dualengine.config.errors import ConfigIssue
    from airflow_provider_dualengine.graph.names import UnknownModel, resolve_model

    issues = []
    for check in checks:
        spec = check.spec
        keys = ["sql"] * len(spec.models()) if isinstance(spec, SqlCheck) else ["left", "right"]
        for key, name in zip(keys, spec.models(), strict=True):
            try:
                resolve_model(graph, name)
            except UnknownModel as exc:
                issues.append(
                    ConfigIssue(
                        check.file,
                        f"{check.key}.{key}",
                        str(exc),
                        "name a model as `engine:name`, e.g. sqlmesh:intermediate.customer_lifetime",
                    )
                )
    return issues


def _run_check(scope: Scope, check: CrossEngineCheck, keys: list[NodeKey], warehouse: Warehouse) -> str | None:
    """Why the check fails, or None. In a transaction that is rolled back: nothing it runs stays."""
    from airflow_provider_dualengine.config.cross_engine_checks import MODEL_REF, KeysMatch, RowCountMatch

    spec = check.spec
    tables = {k: warehouse.quote(*scope.relation(k)) for k in keys}
    warehouse.begin_read_only()
    try:
        distinct = list(dict.fromkeys(keys))
        empty = [node_id(k) for k in distinct if not warehouse.rows(f"SELECT count(*) FROM {tables[k]}")[0][0]]
        if len(empty) == len(distinct) and not spec.allow_empty:
            verb = "is" if len(empty) == 1 else "are"
            return (
                f"{', '.join(empty)} {verb} empty: the check compares nothing (allow_empty: true if that is expected)"
            )
        if isinstance(spec, RowCountMatch):
            left, right = (warehouse.rows(f"SELECT count(*) FROM {tables[k]}")[0][0] for k in keys)
            if abs(left - right) > spec.tolerance:
                return f"{spec.left} has {left} rows, {spec.right} has {right} (tolerance {spec.tolerance})"
            return None
        if isinstance(spec, KeysMatch):
            columns = ", ".join(warehouse.quote(c) for c in spec.key)
            left, right = tables[keys[0]], tables[keys[1]]
            only_left = warehouse.rows(
                f"SELECT count(*) FROM (SELECT {columns} FROM {left} EXCEPT SELECT {columns} FROM {right}) AS d"
            )[0][0]
            only_right = 0
            if spec.direction == "both":
                only_right = warehouse.rows(
                    f"SELECT count(*) FROM (SELECT {columns} FROM {right} EXCEPT SELECT {columns} FROM {left}) AS d"
                )[0][0]
            if only_left or only_right:
                parts = [f"{only_left} key(s) of {spec.left} missing from {spec.right}"]
                if spec.direction == "both":
                    parts.append(f"{only_right} key(s) of {spec.right} missing from {spec.left}")
                return f"{', '.join(parts)} (key: {', '.join(spec.key)})"
            return None
        query = _single_select(MODEL_REF.sub(lambda m: tables[scope.key(m.group(1))], spec.sql), warehouse.dialect)
        rows = warehouse.rows(f"SELECT count(*) FROM ({query}) AS violations")[0][0]
        return f"{rows} violating row(s) returned by the check's query" if rows else None
    finally:
        warehouse.end_read_only()


def _single_select(sql: str, dialect: str) -> str:
    """The check's one SELECT as sqlglot writes it back (comments and a trailing `;` gone);
    anything else - a write, two statements - is refused before it runs."""
    import sqlglot
    from sqlglot import exp

    statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValueError("a `sql` check must be one SELECT that returns the violating rows")
    return statements[0].sql(dialect=dialect, comments=False)


def performance_cases(scope: Scope, baseline: Mapping[NodeKey, Any] | str, max_slowdown: float) -> list[Case]:
    """Each built tested model against its baseline Estimate (resources/plan.py), or one
    skipped case saying why there is no baseline at all."""
    if isinstance(baseline, str):
        return [Case("performance_regression", "model times against run history", "skipped", baseline)]
    cases = []
    for key in sorted(scope.tested, key=node_id):
        if not scope.built(key):
            continue
        name = f"time of {node_id(key)}"
        seconds = scope.build.seconds.get(key)
        estimate = baseline.get(key)
        if seconds is None:
            cases.append(
                Case("performance_regression", name, "skipped", "the engine reported no time for it", (node_id(key),))
            )
            continue
        if estimate is None or estimate.seconds is None:
            why = estimate.source if estimate is not None else "no history"
            cases.append(
                Case("performance_regression", name, "skipped", f"{why}: nothing to compare with", (node_id(key),))
            )
            continue
        slower = seconds > estimate.seconds * max_slowdown and seconds - estimate.seconds >= MIN_SLOWER_S
        message = f"{seconds:.2f} s against {estimate.seconds:.2f} s ({estimate.source}); limit {max_slowdown:g}x"
        cases.append(
            Case(
                "performance_regression",
                name,
                verdict(slower),
                message,
                (node_id(key),),
                seconds=seconds,
            )
        )
    return cases


def dependency_cases(scope: Scope, issues: Iterable[Any], findings: list[Any]) -> list[Case]:
    cases = []
    issues = list(issues)
    cases.append(
        Case(
            "dependency_validation",
            "project validation (stages, models, gateways, sources)",
            verdict(issues),
            "\n".join(i.render() for i in issues),
            file=_relative(scope.project, scope.project.files["dependency_graph"]),
        )
    )
    stage_of, order = scope.graph.placement(), list(scope.graph.stages)
    for stage in scope.graph.stages.values():
        late = sorted(
            f"{node_id(e.downstream)} reads {node_id(e.upstream)} of {stage_of.get(e.upstream)}"
            for e in scope.graph.models_graph.edges
            if stage_of.get(e.downstream) == stage.name
            and e.upstream in stage_of
            and order.index(stage_of[e.upstream]) > order.index(stage.name)
        )
        if not any(stage_of.get(k) == stage.name for k in scope.tested):
            continue
        cases.append(
            Case(
                "dependency_validation",
                f"{stage.name} runs after every stage it reads from",
                verdict(late),
                "\n".join(late),
                tuple(sorted({node_id(k) for k in scope.tested if stage_of.get(k) == stage.name})),
            )
        )
    for finding in findings:
        if not finding.key.startswith("sla"):
            continue
        status = verdict(finding.severity == "error")
        cases.append(
            Case(
                "dependency_validation",
                f"freshness rule of {finding.file.name}: {finding.key}",
                status,
                str(finding),
                (finding.model,),
                _relative(scope.project, finding.file),
            )
        )
    return cases


def _contract_models(scope: Scope, contract: Contract) -> set[NodeKey]:
    from airflow_provider_dualengine.graph.names import UnknownModel

    keys = set()
    producer = _producer(scope, contract)
    if producer is not None:
        keys.add(producer)
    for consumer in contract.model.consumers:
        try:
            keys.add(scope.key(consumer))
        except UnknownModel:
            continue
    return keys


def _producer(scope: Scope, contract: Contract) -> NodeKey | None:
    key = (Engine(contract.model.producer), contract.model.name)
    return key if key in scope.graph.models_graph.nodes else None


def _relative(project: Project, path: Any) -> str:
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path)
