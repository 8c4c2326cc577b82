"""`dualengine demo`: the example pipeline through real Airflow (`dag.test()`) on DuckDB."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_provider_dualengine.cli.local_airflow import (
    configure_environment,
    ensure_pool,
    migrate_metadata_db,
    register_duckdb_warehouse,
)


def run_demo(project_dir: str, dags_folder: str, home: str, environment: str | None = None) -> int:
    started = time.monotonic()
    home_path = Path(home).resolve()
    configure_environment(home_path, Path(dags_folder))

    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config.project import ENVIRONMENT_ENV, PROJECT_DIR_ENV, load_project

    os.environ[PROJECT_DIR_ENV] = str(Path(project_dir).resolve())
    if environment:
        os.environ[ENVIRONMENT_ENV] = environment
    project = load_project(project_dir)
    settings = project.settings
    warehouse = home_path / "warehouse" / f"{settings.name}.duckdb"
    shutil.rmtree(warehouse.parent, ignore_errors=True)  # a fresh warehouse every demo run
    register_duckdb_warehouse(settings.warehouse.conn_id, warehouse)

    _step("Airflow metadata DB", migrate_metadata_db)
    _step("Compile (SQLMesh models + dbt parse)", lambda: compile_project(project, environment))

    from airflow.dag_processing.dagbag import DagBag

    from airflow_provider_dualengine.graph import Engine, build_graph

    if settings.warehouse.writer_pool:
        ensure_pool(settings.warehouse.writer_pool)
    env = project.environment(environment)
    graph = build_graph(project)
    run_log = home_path / "demo-run.log"
    print(f"Running the DAG with dag.test(); Airflow, SQLMesh and dbt output go to {run_log} ...", flush=True)
    run_started = time.monotonic()
    with _output_to(run_log):
        bag = DagBag(dag_folder=str(Path(dags_folder).resolve()))
        dag = next((d for d in bag.dags.values() if "dualengine" in d.tags and env.name in d.tags), None)
        run = dag.test() if dag is not None and not bag.import_errors else None
    run_seconds = time.monotonic() - run_started
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"DAG import error in {path}:\n{error}")
        return 1
    if dag is None or run is None:
        print(f"no dual-engine DAG for environment '{env.name}' in {dags_folder}")
        return 1

    states = Counter(str(ti.state) for ti in run.get_task_instances())
    print()
    print("=" * 72)
    print(f"Dual-engine demo: DAG {dag.dag_id}, environment {env.name} -> {run.state}")
    print(f"  warehouse: {warehouse}")
    for stage in graph.stages.values():
        parts = "; ".join(f"{e.value}: {', '.join(m.name for m in stage.models[e])}" for e in stage.engines())
        print(f"  {stage.name}: {parts}")
    # a dbt model's task is `<stage>.dbt.<model>` (Cosmos: `<stage>.dbt.<model>.run`)
    dbt_built = {m.name for m in graph.models(Engine.DBT)} & {
        ti.task_id.split(".dbt.", 1)[1].split(".")[0]
        for ti in run.get_task_instances()
        if ".dbt." in ti.task_id and str(ti.state) == "success"
    }
    print(
        f"  models: {len(graph.models(Engine.SQLMESH))} SQLMesh (planned into '{env.sqlmesh_environment}'), {len(graph.models(Engine.DBT))} dbt ({len(dbt_built)} built with their tests); tasks: {dict(states)}"
    )
    if str(run.state) == "success":
        _print_marts(project, env, graph, settings.warehouse.conn_id)
    else:
        failed = sorted(ti.task_id for ti in run.get_task_instances() if str(ti.state) == "failed")
        print(f"  failed tasks: {', '.join(failed)} (logs in {home_path / 'logs'})")
    print(f"  wall time: dag.test() {run_seconds:.1f} s, whole demo {time.monotonic() - started:.1f} s")
    print("=" * 72)
    return 0 if str(run.state) == "success" else 1


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (including engine subprocess output) to a file."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("w") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _step(label: str, action) -> None:
    began = time.monotonic()
    action()
    print(f"{label}: done in {time.monotonic() - began:.1f} s", flush=True)


def _print_marts(project, env, graph, conn_id: str) -> None:
    from airflow_provider_dualengine.graph import Engine
    from airflow_provider_dualengine.graph.relations import sqlmesh_view
    from airflow_provider_dualengine.hooks.connections import get_connection
    from airflow_provider_dualengine.hooks.warehouse import open_warehouse

    # marts: the dbt models no other dbt model reads
    read_by_dbt = {e.upstream for e in graph.models_graph.edges if e.downstream[0] is Engine.DBT}
    marts = [m for m in graph.models(Engine.DBT) if (Engine.DBT, m.name) not in read_by_dbt]
    with open_warehouse(get_connection(conn_id)) as warehouse:
        for model in marts:
            print(f"  mart {env.dbt_schema}.{model.name}: {warehouse.row_count(env.dbt_schema, model.name)} rows")
        schemas = {sqlmesh_view(m.name, env.sqlmesh_environment)[0] for m in graph.models(Engine.SQLMESH)}
        views = sorted(f"{schema}.{v}" for schema in schemas for v in warehouse.list_tables(schema))
        print(f"  SQLMesh views in environment '{env.sqlmesh_environment}': {', '.join(views)}")
