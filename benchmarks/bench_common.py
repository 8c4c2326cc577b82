"""Shared bits of the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Bytecode is written (a deployed Airflow image has .pyc files; without them every parse
# would also compile hundreds of modules).
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of a command that must succeed."""
    began = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - began


PARSE_PROBE = """
import importlib, json, resource, runpy, sys, time
importlib.import_module(sys.argv[2])  # what the parsing process has loaded before the file
t0 = time.perf_counter()
ns = runpy.run_path(sys.argv[1])
elapsed = time.perf_counter() - t0
print(json.dumps({"parse_s": elapsed, "tasks": len(ns["dag"].tasks), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


# Preloaded before the timer starts:
# - "airflow.sdk": a bare interpreter with the authoring API only (pessimistic: every
#   library the DAG file touches is imported inside the timer);
# - "airflow.dag_processing.processor": the module Airflow's DAG processor parses files
#   with, and what it imports (plugins, Cosmos' top-level package, ORM models).
# - "airflow.sdk.execution_time.task_runner": what a task process has imported before it
#   parses the DAG file to find its task (every task run pays this parse once).
COLD, PROCESSOR = "airflow.sdk", "airflow.dag_processing.processor"
TASK_RUNNER = "airflow.sdk.execution_time.task_runner"


def parse_dag_file(dag_file: Path, env: dict[str, str], runs: int, preload: str = COLD) -> list[dict]:
    """Parse a DAG file `runs` times, each in a fresh interpreter: time of executing the file
    (after importing `preload`), task count and peak RSS of that process."""
    import json

    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PARSE_PROBE, str(dag_file), preload],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results
