"""Run a deploy DAG with dag.test() and stall inside the promotion transaction, so that a
test can kill this process (SIGKILL) mid-promotion. Usage: python -m tests.e2e.deploy_until_killed DAG_FILE DAG_ID MARKER.

After the second prod view is replaced (inside the still-open transaction) the marker
file is written and the process sleeps; the test kills it there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(dag_file: str, dag_id: str, marker: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_provider_dualengine.deployments import promotion

    original, calls = promotion._replace_view, []

    def stalling(cursor, view, physical):
        original(cursor, view, physical)
        calls.append(view)
        if len(calls) == 2:
            Path(marker).write_text(".".join(view))
            time.sleep(600)

    promotion._replace_view = stalling
    run = DagBag(dag_folder=dag_file).dags[dag_id].test()
    print("deployment ended:", run.state, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
