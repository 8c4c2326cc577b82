"""Run a DAG with dag.test() in a process of its own, so that what Airflow configures once
at import (the OpenLineage listener and its transport, the StatsD client) follows the
environment the test set, then write what Airflow saw as JSON: the run's state, each
task's inlet and outlet Asset URIs, the Asset events the run emitted, and XComs of tasks.

Usage: python -m tests.e2e.dag_test_child DAG_FILE DAG_ID OUT_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def main(dag_file: str, dag_id: str, out: str) -> None:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    dag = DagBag(dag_folder=dag_file).dags[dag_id]
    run = dag.test()
    with create_session() as session:
        events = session.execute(
            select(AssetModel.uri, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run.run_id)
        ).all()
    report = {
        "state": str(run.state),
        "task_states": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        "tasks": {
            task.task_id: {
                "inlets": sorted(a.uri for a in task.inlets if hasattr(a, "uri")),
                "outlets": sorted(a.uri for a in task.outlets if hasattr(a, "uri")),
            }
            for task in dag.tasks
        },
        "asset_events": sorted([uri, task_id] for uri, task_id in events),
        "run_id": run.run_id,
        "returns": {ti.task_id: _json(ti.xcom_pull(task_ids=ti.task_id)) for ti in run.get_task_instances()},
    }
    Path(out).write_text(json.dumps(report, indent=1))


def _json(value: object) -> object:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def run_in_child(source: str, dag_id: str, env: dict[str, str], out: Path) -> dict[str, Any]:
    """Write `source` as a DAG file into the tests' dags folder, run this module on it in a
    child process with `env` added, and return what the child wrote."""
    import os
    import subprocess

    from tests.conftest import REPO_ROOT, TEST_DAGS_FOLDER

    dag_file = TEST_DAGS_FOLDER / f"{dag_id}.py"
    dag_file.write_text(source)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.e2e.dag_test_child", str(dag_file), dag_id, str(out)],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        dag_file.unlink(missing_ok=True)
    assert done.returncode == 0 and out.is_file(), done.stderr[-4000:]
    return json.loads(out.read_text())


if __name__ == "__main__":
    main(*sys.argv[1:4])
