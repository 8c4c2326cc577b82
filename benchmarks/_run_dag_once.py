"""Child process of run_overhead.py: one whole Airflow run of a project, as a user starts it.

    python _run_dag_once.py prepare HOME PROJECT          # sqlite metadata DB + writer pool, once
    python _run_dag_once.py run HOME PROJECT DUCKDB OUT   # build the DAG, dag.test(), task report
    python _run_dag_once.py floor HOME OUT                # a one-task DAG: Airflow's own cost

`run` is what the parent times as a whole process (interpreter start, Airflow import, DAG
build, dag.test()); it writes the run's task instances (duration, operator class) to OUT
and exits non-zero unless the DAG run ends in success. The DAG comes from a tiny file in
HOME/dags calling build_dag(), so dag.test()'s own bundle sync parses the same file.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()

DAG_FILE = """\
# Written by benchmarks/_run_dag_once.py: the project's DAG, nothing else.
import json
import os

from airflow_provider_dualengine import RenderConfig, build_dag

render = RenderConfig(**json.loads(os.environ.get("DUALENGINE_BENCH_RENDER") or "{}"))
dag = build_dag(os.environ["DUALENGINE_PROJECT_DIR"], render_config=render)
"""


def _configure(home: Path, project: Path) -> None:
    """Airflow reads its configuration at import: this runs before anything imports airflow."""
    from airflow_provider_dualengine.cli.local_airflow import configure_environment

    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    configure_environment(home, dags)
    os.environ["DUALENGINE_PROJECT_DIR"] = str(project)


def prepare(home: Path, project: Path) -> None:
    """Metadata DB, the DuckDB writer pool and the DAG file, once per project."""
    _configure(home, project)
    (home / "dags" / "pipeline.py").write_text(DAG_FILE)
    from airflow_provider_dualengine.cli.local_airflow import ensure_pool, migrate_metadata_db
    from airflow_provider_dualengine.config.project import load_project

    migrate_metadata_db()
    pool = load_project(project).settings.warehouse.writer_pool
    if pool:
        ensure_pool(pool)


def run(home: Path, project: Path, duckdb_file: Path, out: Path) -> int:
    """Build the DAG and dag.test() it on `duckdb_file`; report to `out`."""
    _configure(home, project)
    from airflow_provider_dualengine.cli.local_airflow import register_duckdb_warehouse
    from airflow_provider_dualengine.config.project import load_project

    register_duckdb_warehouse(load_project(project).settings.warehouse.conn_id, duckdb_file)
    began = time.perf_counter()
    from airflow.dag_processing.dagbag import DagBag

    imported = time.perf_counter()
    bag = DagBag(dag_folder=str(home / "dags"))
    if bag.import_errors or len(bag.dags) != 1:
        raise SystemExit(f"DAG import failed: {bag.import_errors or sorted(bag.dags)}")
    dag = next(iter(bag.dags.values()))
    built = time.perf_counter()
    dag_run = dag.test()
    tested = time.perf_counter()
    report = {
        "dag_id": dag.dag_id,
        "state": str(dag_run.state),
        "dagbag_import_s": imported - began,
        "dag_build_s": built - imported,
        "dag_test_s": tested - built,
        "until_dag_test_s": built - STARTED,
        "tasks": _tasks(dag, dag_run),
    }
    report["in_process_s"] = time.perf_counter() - STARTED  # the parent's wall minus this: start-up and exit
    out.write_text(json.dumps(report))
    return 0 if report["state"] == "success" else 1


def _tasks(dag, dag_run) -> list[dict]:
    """Each task instance with its duration and the class of the operator that ran it."""
    rows = []
    for ti in dag_run.get_task_instances():
        task = dag.task_dict.get(ti.task_id)
        cls = type(task) if task is not None else None
        duration = ti.duration
        if duration is None and ti.start_date and ti.end_date:
            duration = (ti.end_date - ti.start_date).total_seconds()
        rows.append(
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "operator": ti.operator,  # the class name, as the REST API reports it
                "operator_class": f"{cls.__module__}.{cls.__qualname__}" if cls else ti.operator,
                "duration_s": duration,
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
                "try_number": ti.try_number,
            }
        )
    return rows


FLOOR_DAG = """\
# Written by benchmarks/_run_dag_once.py: the smallest DAG, for Airflow's own fixed cost.
import pendulum
from airflow.sdk import DAG, task

with DAG("airflow_floor", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:

    @task
    def one() -> int:
        return 1

    one()
"""


def floor(home: Path, out: Path) -> int:
    """dag.test() of a one-task DAG (no engine): what any whole-process run pays for Airflow."""
    from airflow_provider_dualengine.cli.local_airflow import configure_environment, migrate_metadata_db

    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    configure_environment(home, dags)
    if not (dags / "floor.py").is_file():  # the first call prepares the home, untimed by the parent's median
        (dags / "floor.py").write_text(FLOOR_DAG)
        migrate_metadata_db()
        return 0
    from airflow.dag_processing.dagbag import DagBag

    dag_run = DagBag(dag_folder=str(dags)).dags["airflow_floor"].test()
    out.write_text(json.dumps({"state": str(dag_run.state), "in_process_s": time.perf_counter() - STARTED}))
    return 0 if str(dag_run.state) == "success" else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["prepare"] and len(argv) == 3:
        prepare(Path(argv[1]), Path(argv[2]))
        return 0
    if argv[:1] == ["floor"] and len(argv) == 3:
        return floor(Path(argv[1]), Path(argv[2]))
    if argv[:1] == ["run"] and len(argv) == 5:
        return run(Path(argv[1]), Path(argv[2]), Path(argv[3]), Path(argv[4]))
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
