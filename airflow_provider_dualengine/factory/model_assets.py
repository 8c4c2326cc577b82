"""The Assets a dual-engine DAG emits for its models, to schedule other DAGs on them.

Both engines name a model's table the same way (Cosmos' URI scheme:
`duckdb:///<file>/<db>/<schema>/<table>`, `postgres://<host>:<port>/<db>/<schema>/<table>`),
so a dbt DAG can be scheduled on SQLMesh models and a SQLMesh DAG on dbt models:

    from airflow_provider_dualengine import build_dag, model_assets

    build_dag(project, stages=["stage_3_dbt"], dag_id="marts",
              schedule=model_assets(["intermediate.customer_lifetime", "stg_customers"], project))

The URI carries the environment's schema (`staging__dev`, `analytics_dev`), so a dev
consumer never fires on prod events. Reading the warehouse connection at parse time is
needed for the URI's host/file (`warehouse_at_parse`); nothing else is touched. The
producing tasks declare the same Assets as outlets, so Airflow's Asset pages list them as
producers, and a deployment's promotion declares the prod tables' Assets.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import Asset

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment, load_project
from airflow_provider_dualengine.engines.connections import table_asset_uri
from airflow_provider_dualengine.graph import Engine, build_graph
from airflow_provider_dualengine.graph.names import UnknownModel, resolve_model
from airflow_provider_dualengine.graph.relations import model_relation


def warehouse_at_parse(project: Project) -> Any:
    """The warehouse connection while a DAG file is parsed; a DAG import error naming it
    when this process cannot see it.

    The DAG names each model's Asset after the warehouse (file or host) and declares it
    on the task that builds it. Were a missing connection only a fallback, the DAG's shape
    would depend on timing: the DAG processor could parse it without Assets while the task
    processes, re-parsing with the connection, declare Assets the scheduled DAG does not
    know, and Airflow drops their events ("Task has inactive assets"). One lookup per DAG:
    an environment variable, or one request to the DAG processor's or the task's supervisor.
    """
    from airflow_provider_dualengine.engines.connections import WarehouseConnectionNotFound
    from airflow_provider_dualengine.hooks.connections import get_connection

    conn_id = project.settings.warehouse.conn_id
    try:
        return get_connection(conn_id)
    except WarehouseConnectionNotFound as exc:
        what, _, fix = str(exc).partition("\n    fix: ")
        issue = ConfigIssue(
            project.files["settings"],
            "warehouse.conn_id",
            f"{what} The DAG names each model's Airflow Asset after this warehouse, so it cannot be built without it.",
            fix,
        )
        raise DualEngineConfigError([issue]) from None


def model_asset_uri(
    conn: Any,
    project: Project,
    engine: Engine,
    name: str,
    relation: str | None,
    environment: str | ResolvedEnvironment | None = None,
) -> str:
    """The Asset URI of a model's output in an environment (what its task emits)."""
    schema, table = model_relation(project, engine, name, relation, environment)
    return table_asset_uri(conn, schema, table)


def model_assets(
    models: list[str], project_dir: str | os.PathLike[str] | None = None, environment: str | None = None
) -> list[Asset]:
    """One Asset per model ("staging.customer_enhanced", "dbt:customer_value", ...), named
    exactly as the producing task names it. Raises DualEngineConfigError for unknown or
    ambiguous names."""
    project = load_project(project_dir)
    graph = build_graph(project)
    conn = warehouse_at_parse(project)
    assets, issues = [], []
    for name in models:
        found, problem = _resolve(graph, name)
        if found is None:
            issues.append(
                ConfigIssue(
                    project.files["dependency_graph"],
                    "model_assets",
                    problem,
                    "use a model of either project; prefix it with sqlmesh: or dbt: when both have it",
                )
            )
            continue
        engine, model_name, relation = found
        assets.append(
            Asset(
                model_asset_uri(conn, project, engine, model_name, relation, environment),
                extra={"engine": engine.value, "model": model_name},
            )
        )
    if issues:
        raise DualEngineConfigError(issues)
    return assets


def _resolve(graph, name: str) -> tuple[tuple[Engine, str, str | None] | None, str]:
    try:
        key = resolve_model(graph, name)
    except UnknownModel as exc:
        what = "is in both engines" if exc.candidates else "is not a model of this project"
        return None, f"'{name}' {what}" + (
            f" ({', '.join(f'{e.value}:{n}' for e, n in exc.candidates)})" if exc.candidates else ""
        )
    return (key[0], key[1], graph.models_graph.nodes[key].relation), ""
