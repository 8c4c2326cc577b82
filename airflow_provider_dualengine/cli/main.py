"""`dualengine` console script: validate, compile, lineage, impact, contracts, deployments, rollback, metrics, report, resources, plan, engines, lint, docs, test, ci, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.errors import DualEngineConfigError

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project


def _validate(args: argparse.Namespace) -> int:
    """Everything DAG parsing checks, plus what only a CLI can afford: gateways, dbt sources
    over SQLMesh models, contracts against the compiled projects, and for a prod
    environment the deploy DAG's rules. A stale artifact is an error naming the changed
    files (validate never writes anything) unless --compile asks to compile first."""
    from airflow_provider_dualengine.compiled.artifact import compile_project, read_artifact
    from airflow_provider_dualengine.config.errors import ConfigIssue
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.static import check_project_contracts
    from airflow_provider_dualengine.graph import Engine, build_graph, load_catalogs
    from airflow_provider_dualengine.graph.validation import validate_project

    project = load_project(args.project_dir)
    env = project.environment(args.environment)
    if args.compile:
        print(f"compiled {compile_project(project, env.name)}")
    catalogs, problems = load_catalogs(project)
    graph = build_graph(project, catalogs if not problems else None)
    issues = validate_project(project, read_artifact(project), catalogs, env, require_dbt_docs=not args.no_dbt_docs)
    contracts, findings = check_project_contracts(project, graph)
    issues += [ConfigIssue(f.file, f.key, f.message, f.hint) for f in findings if f.severity == "error"]
    issues += _monitoring_issues(project)
    issues += _check_file_issues(project, graph)
    governance = _governance_findings(project, env.name) if not issues else []
    issues += [f.as_issue(f.file or project.root, f.rule) for f in governance if f.severity == "error"]
    if issues:
        raise DualEngineConfigError(issues)
    print(
        f"OK: {project.root} (environment {env.name}: SQLMesh '{env.sqlmesh_environment}', dbt target '{env.dbt_target}')"
    )
    for stage in graph.stages.values():
        after = ", ".join(stage.upstream_stages + stage.external_inputs) or "-"
        counts = ", ".join(f"{len(stage.models[e])} {e.value}" for e in stage.engines())
        print(f"  {stage.name:<24} {counts:<22} after: {after}")
    print(
        f"  {len(graph.models(Engine.SQLMESH))} SQLMesh models, {len(graph.models(Engine.DBT))} dbt models in {len(graph.stages)} stages; {len(graph.models_graph.cross_engine_edges())} cross-engine edges; {len(contracts)} contract(s)"
    )
    for finding in findings:
        print(f"  {finding}".replace("\n", "\n  "))
    for warning in governance:
        print(f"  {warning}".replace("\n", "\n  "))
    return 0


def _governance_findings(project: Project, environment: str) -> list[Any]:
    """Engine selection mismatches (config/engine_selection_rules.yml) and layer/domain
    violations (config/model_organization.yml), at each file's severity; none without the
    files. Naming and folders are `dualengine lint`'s alone: they never block a deploy. From
    the repository alone (governance/selection.selection_findings)."""
    from airflow_provider_dualengine.config.engine_selection import load_engine_selection
    from airflow_provider_dualengine.config.model_organization import load_model_organization
    from airflow_provider_dualengine.governance.facts import load_facts
    from airflow_provider_dualengine.governance.layers import layer_findings
    from airflow_provider_dualengine.governance.selection import selection_findings

    rules, organization = load_engine_selection(project), load_model_organization(project)
    if rules is None and organization is None:
        return []
    facts = load_facts(project)
    found = selection_findings(project, facts, environment)
    return found + (layer_findings(project, facts, organization) if organization is not None else [])


def _check_file_issues(project: Project, graph: Any) -> list[Any]:
    """`shared/tests/*.yml` as `dualengine test` reads them: valid, and naming real models."""
    from airflow_provider_dualengine.config.cross_engine_checks import load_cross_engine_checks
    from airflow_provider_dualengine.testing.checks import unknown_model_issues

    try:
        return unknown_model_issues(load_cross_engine_checks(project), graph)
    except DualEngineConfigError as exc:
        return list(exc.issues)


def _monitoring_issues(project: Any) -> list[Any]:
    """resources.yml and monitoring.yml as the DAGs read them: allocations and windows,
    prices, budgets, alert rules and their notifiers."""
    from airflow_provider_dualengine.config.resources import load_resources
    from airflow_provider_dualengine.factory.monitoring_tasks import has_alert_rules

    try:
        load_resources(project)
    except DualEngineConfigError as exc:
        return list(exc.issues)
    try:
        has_alert_rules(project)
    except DualEngineConfigError as exc:
        return list(exc.issues)
    return []


def _compile(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config.project import load_project

    project = load_project(args.project_dir)
    path = compile_project(project, args.environment)
    print(f"wrote {path}")
    return 0


def _column_edges(project: Project) -> list[dict[str, Any]]:
    """Column edges of the compiled artifact (build_graph has already checked it exists)."""
    from airflow_provider_dualengine.compiled.artifact import read_artifact
    from airflow_provider_dualengine.graph.impact import column_edges

    return column_edges(read_artifact(project, check_fresh=False), project.settings.dbt.schema_)


def _lineage(args: argparse.Namespace) -> int:
    import json

    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph
    from airflow_provider_dualengine.graph.impact import lineage_document, lineage_mermaid

    project = load_project(args.project_dir)
    graph = build_graph(project)
    if args.format == "mermaid":
        print(lineage_mermaid(graph, _column_edges(project) if args.columns else None))
    else:
        print(json.dumps(lineage_document(graph, _column_edges(project)), indent=2))
    return 0


def _impact(args: argparse.Namespace) -> int:
    import json

    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import Engine, build_graph
    from airflow_provider_dualengine.graph.impact import analyze_impact, downstream_columns
    from airflow_provider_dualengine.graph.names import UnknownModel

    project = load_project(args.project_dir)
    graph = build_graph(project)
    try:
        report = analyze_impact(graph, args.models, project.contracts_path)
    except UnknownModel as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.column:
        for model in report:
            engine, _, name = model.partition(":")
            columns = graph.models_graph.nodes[(Engine(engine), name)].columns
            if columns and args.column.lower() not in {c.lower() for c in columns}:
                print(
                    f"error: model {model} has no column '{args.column}' (it has: {', '.join(columns)})\n    fix: name one of its columns",
                    file=sys.stderr,
                )
                return 2
        edges = _column_edges(project)
        for model, item in report.items():
            item["downstream_columns"] = downstream_columns(edges, f"{model}.{args.column}")
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for model, item in report.items():
        scope = item["impact_scope"]
        print(
            f"{model}: risk {item['risk_level']}; {scope['models']} downstream ({scope['by_engine']['sqlmesh']} SQLMesh, {scope['by_engine']['dbt']} dbt) in stages {', '.join(scope['stages'])}"
        )
        for node in item["downstream"]:
            print(f"  -> {node['engine']}:{node['model']} ({node['stage'] or 'not in a stage'})")
        for contract in item["contracts_to_check"]:
            print(f"  contract to check: {contract}")
        print(
            f"  checks to run: {sum(len(c) for c in item['checks_to_run'].values())} tests/audits on {len(item['checks_to_run'])} models"
        )
        for column in item.get("downstream_columns", []):
            print(f"  column {args.column} -> {column}")
        if args.column and not item["downstream_columns"]:
            print(
                f"  column {args.column}: no downstream columns known (column lineage covers SQLMesh SQL models only)"
            )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.cli.demo import run_demo

    return run_demo(
        project_dir=args.project_dir, dags_folder=args.dags_folder, home=args.home, environment=args.environment
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dualengine", description="SQLMesh + dbt as one platform on Airflow")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of any error")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check the project's YAML against both engines' projects")
    validate.add_argument("project_dir")
    validate.add_argument(
        "--environment",
        "-e",
        help="check this environment (an environment mapping to SQLMesh's prod also gets the deploy DAG's rules)",
    )
    validate.add_argument(
        "--compile",
        action="store_true",
        help="compile first (loads SQLMesh, runs dbt parse) instead of failing on a stale artifact",
    )
    validate.add_argument(
        "--no-dbt-docs",
        action="store_true",
        help="do not require dbt model descriptions in a prod environment (as build_deploy_dag(require_dbt_docs=False))",
    )
    validate.set_defaults(func=_validate)

    compile_ = sub.add_parser("compile", help="load both engines once and write the artifact DAG parsing reads")
    compile_.add_argument("project_dir")
    compile_.add_argument("--environment", "-e")
    compile_.set_defaults(func=_compile)

    lineage = sub.add_parser("lineage", help="the model graph across both engines (JSON or Mermaid)")
    lineage.add_argument("project_dir")
    lineage.add_argument("--format", choices=["json", "mermaid"], default="json")
    lineage.add_argument(
        "--columns", action="store_true", help="mermaid: also draw column edges (JSON always has them under 'columns')"
    )
    lineage.set_defaults(func=_lineage)

    impact = sub.add_parser("impact", help="what a change to MODEL reaches across engines, its risk, and what to test")
    impact.add_argument("project_dir")
    impact.add_argument(
        "models", nargs="+", metavar="MODEL", help="e.g. staging.stg_orders, sqlmesh:staging.stg_orders, stg_customers"
    )
    impact.add_argument(
        "--column", help="also list the columns computed from MODEL.COLUMN (column lineage of SQLMesh models)"
    )
    impact.add_argument("--json", action="store_true")
    impact.set_defaults(func=_impact)

    from airflow_provider_dualengine.cli import contracts

    contracts.add_parser(sub)

    from airflow_provider_dualengine.cli import deployments

    deployments.add_parsers(sub)
    from airflow_provider_dualengine.cli import monitoring, resources

    monitoring.add_parsers(sub)
    resources.add_parsers(sub)
    from airflow_provider_dualengine.cli import plan

    plan.add_parser(sub)
    from airflow_provider_dualengine.cli import docs, engines, lint

    engines.add_parser(sub)
    lint.add_parser(sub)
    docs.add_parser(sub)
    from airflow_provider_dualengine.cli import ci_init, test

    test.add_parser(sub)
    ci_init.add_parser(sub)

    demo = sub.add_parser("demo", help="run the example pipeline through Airflow on embedded DuckDB")
    demo.add_argument("project_dir", nargs="?", default="transforms")
    demo.add_argument("--dags-folder", default="dags")
    demo.add_argument("--home", default=".demo", help="folder for the Airflow metadata DB, logs and the DuckDB file")
    demo.add_argument("--environment", "-e")
    demo.set_defaults(func=_demo)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    """Errors written for the person at the terminal: printed as they are, no traceback."""
    from airflow_provider_dualengine.compiled.artifact import ArtifactProblem
    from airflow_provider_dualengine.engines.connections import WarehouseConnectionError
    from airflow_provider_dualengine.hooks.airflow_api import AirflowApiError

    return (DualEngineConfigError, ArtifactProblem, WarehouseConnectionError, AirflowApiError)


# Exit code of a verb that found the DuckDB warehouse held by another process (a running
# pipeline task) for longer than it waits: retrying later succeeds, unlike exit 1.
EXIT_BUSY = 3


def _exit_code(exc: BaseException) -> int:
    """1 for a known error, EXIT_BUSY when the warehouse was busy (retry later)."""
    from airflow_provider_dualengine.hooks.warehouse import WarehouseBusy

    return EXIT_BUSY if isinstance(exc, WarehouseBusy) else 1


class _NoTraceback(logging.Formatter):
    """Library log lines as one line each: an engine that logs an exception before raising
    it (SQLMesh does for a missing engine library) must not print the traceback wall the
    CLI's own message replaces."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return ""

    def formatStack(self, stack_info: str) -> str:  # noqa: N802
        return ""


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a test's capture, say)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _quiet_library_logging() -> logging.Handler | None:
    """Installed for the command's duration when nothing configured logging."""
    root = logging.getLogger()
    if root.handlers:  # Airflow, pytest or the caller configured logging already
        return None
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_NoTraceback("%(levelname)s: %(name)s: %(message)s"))
    root.addHandler(handler)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere: `dualengine compile x --debug` too
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    handler = None if debug else _quiet_library_logging()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, _known_errors()):
            print(f"error: {exc}", file=sys.stderr)
            return _exit_code(exc)
        # A bug or an unforeseen failure: one line, not a wall; --debug shows where.
        first = (str(exc).strip().splitlines() or [""])[0]
        print(
            f"error: {type(exc).__name__}: {first}\n(unexpected; run with --debug for the traceback)", file=sys.stderr
        )
        return 1
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
