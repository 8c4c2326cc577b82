"""`dualengine` console script: validate, compile, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from airflow_provider_dualengine.config.errors import DualEngineConfigError


def _validate(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import Engine, build_graph

    project = load_project(args.project_dir)
    env = project.environment(args.environment)
    graph = build_graph(project)
    print(f"OK: {project.root} (environment {env.name}: SQLMesh '{env.sqlmesh_environment}', dbt target '{env.dbt_target}')")
    for stage in graph.stages.values():
        after = ", ".join(stage.upstream_stages + stage.external_inputs) or "-"
        counts = ", ".join(f"{len(stage.models[e])} {e.value}" for e in stage.engines())
        print(f"  {stage.name:<24} {counts:<22} after: {after}")
    print(f"  {len(graph.models(Engine.SQLMESH))} SQLMesh models, {len(graph.models(Engine.DBT))} dbt models in {len(graph.stages)} stages")
    return 0


def _compile(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config.project import load_project

    project = load_project(args.project_dir)
    path = compile_project(project, args.environment)
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from airflow_provider_dualengine.cli.demo import run_demo

    return run_demo(project_dir=args.project_dir, dags_folder=args.dags_folder, home=args.home, environment=args.environment)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dualengine", description="SQLMesh + dbt as one platform on Airflow")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="check the project's YAML against both engines' projects")
    validate.add_argument("project_dir")
    validate.add_argument("--environment", "-e")
    validate.set_defaults(func=_validate)

    compile_ = sub.add_parser("compile", help="load both engines once and write the artifact DAG parsing reads")
    compile_.add_argument("project_dir")
    compile_.add_argument("--environment", "-e")
    compile_.set_defaults(func=_compile)

    demo = sub.add_parser("demo", help="run the example pipeline through Airflow on embedded DuckDB")
    demo.add_argument("project_dir", nargs="?", default="transforms")
    demo.add_argument("--dags-folder", default="dags")
    demo.add_argument("--home", default=".demo", help="folder for the Airflow metadata DB, logs and the DuckDB file")
    demo.add_argument("--environment", "-e")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DualEngineConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
