"""The README's first command ends in `dualengine demo`: run it as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DAGS_FOLDER, EXAMPLE_PROJECT


@pytest.mark.e2e
def test_demo_runs_the_example_and_prints_a_summary(example_project: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DUALENGINE"))}
    exe = Path(sys.executable).with_name("dualengine")
    result = subprocess.run(
        [str(exe), "demo", str(EXAMPLE_PROJECT), "--dags-folder", str(DAGS_FOLDER), "--home", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "environment development -> success" in out
    assert "mart analytics_dev.customer_order_summary: 50 rows" in out
    assert "mart analytics_dev.customer_value: 50 rows" in out
    assert "6 SQLMesh (planned into 'dev'), 4 dbt (4 built with their tests)" in out
    # the example DAG's 26 tasks (2 execution-window gates) all succeed under dag.test() too
    # (a manual run passes the gates; values and Asset events are checked in a real cluster:
    # tests/e2e/on_cluster/test_cluster.py)
    assert "tasks: {'success': 26}" in out
    assert (tmp_path / "demo" / "warehouse" / "shop.duckdb").is_file()
    assert "Traceback" not in out  # engine output goes to the run log, not the summary
    assert (tmp_path / "demo" / "demo-run.log").stat().st_size > 0
