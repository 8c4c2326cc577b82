"""Shared bits of the benchmark scripts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1", "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False"}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of a command that must succeed."""
    began = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - began
