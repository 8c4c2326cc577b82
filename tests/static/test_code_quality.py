"""The code checks CI runs: imports point down (import-linter), ruff lint + format, mypy.

Each is the tool's own verdict on the repository; the planted-import test shows the layer
contract really catches an upward import hidden inside a function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_imports_point_down_through_the_layers() -> None:
    result = _run("lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "airflow_provider_dualengine", tmp_path / "airflow_provider_dualengine")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    names = tmp_path / "airflow_provider_dualengine" / "engines" / "sqlmesh" / "names.py"
    names.write_text(
        names.read_text()
        + "\n\ndef _planted() -> None:\n    from airflow_provider_dualengine.operators.sqlmesh import SQLMeshPlanOperator  # noqa: F401\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the copy shadows the editable install
    result = _run("lint-imports", "--no-cache", cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Layers point down (docs/architecture.md) BROKEN" in result.stdout, result.stdout
    assert (
        "airflow_provider_dualengine.engines.sqlmesh.names -> airflow_provider_dualengine.operators.sqlmesh"
        in " ".join(result.stdout.split())
    ), result.stdout


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_ruff(args: tuple[str, ...]) -> None:
    result = _run("ruff", *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_on_the_package() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout, result.stdout
