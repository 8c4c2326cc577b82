"""Run a DAG with a real executor (LocalExecutor) so that tasks run in parallel.

`dag.test()` runs tasks one at a time in-process; proving that independent branches
overlap needs Airflow's executor. Its workers report through the Execution API, so an
`airflow api-server` runs beside it on a free port, against the tests' metadata DB.
Both run as subprocesses with the tests' Airflow environment plus the executor settings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_RUNNER = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
run = bag.dags[sys.argv[2]].test(use_executor=True)
print("RESULT " + json.dumps({"state": str(run.state), "tasks": {
    ti.task_id: {"state": str(ti.state), "start": ti.start_date.timestamp() if ti.start_date else None,
                 "end": ti.end_date.timestamp() if ti.end_date else None}
    for ti in run.get_task_instances()}}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def executor_environment(parallelism: int = 4, startup_timeout: float = 120) -> Iterator[dict[str, str]]:
    """An api-server for the tests' Airflow home; yields the environment for executor runs."""
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(16).hex(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    log = open(Path(env["AIRFLOW_HOME"]) / f"api-server-{port}.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"airflow api-server did not start; see {log.name}")
            time.sleep(0.5)
        yield env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def run_with_executor(
    env: dict[str, str], dag_file: Path, dag_id: str, extra_env: dict[str, str] | None = None, timeout: float = 600
) -> dict:
    """dag.test(use_executor=True) in a subprocess; returns the run state and per-task
    state, start and end (epoch seconds)."""
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(dag_file), dag_id],
        env={**env, **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise AssertionError(
            f"executor run of {dag_id} failed (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return json.loads(lines[-1].removeprefix("RESULT "))
