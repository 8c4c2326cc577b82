"""The provider as a cluster installs it: a wheel built from the sources, installed into a
fresh virtualenv with the recipe the Docker image uses (docker/cluster-requirements.txt).

    wheel = build_wheel(tmp / "dist")
    venv = install_cluster_venv(tmp / "venv", wheel)     # python3.11 -m venv + pip install

Building the wheel takes ~3 s; installing it with Airflow, SQLMesh, dbt and Cosmos into
an empty venv about a minute. While developing, set DUALENGINE_CLUSTER_VENV_CACHE to a
directory to keep the venv between runs, keyed by the wheel's content, the requirements
and the Python version (a venv cannot be moved, so it is built in place and marked
complete last). Without it every run installs from nothing, as CI does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The one install recipe: docker/Dockerfile runs the same pip install (tests/static checks it).
REQUIREMENTS = REPO_ROOT / "docker" / "cluster-requirements.txt"
WHEEL_EXTRAS = "postgres"
DISTRIBUTION = "airflow-provider-dualengine"
VENV_CACHE_ENV = "DUALENGINE_CLUSTER_VENV_CACHE"
PYTHON_ENV = "PYTHON"  # as scripts/setup.sh: the interpreter that makes venvs

# What a source checkout holds besides the sources (.gitignore, plus the checkout itself).
_NOT_SOURCES = (
    ".git",
    ".venv",
    ".demo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".cache",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    "*.duckdb",
    "*.duckdb.wal",
    "logs",
    "target",
    ".work",
)


class InstallError(RuntimeError):
    """Building the wheel or installing the cluster venv failed."""


def copy_sources(destination: Path, root: Path = REPO_ROOT) -> Path:
    """A clean copy of the checkout (no venv, VCS data, build output or caches):
    setuptools builds in-tree and would otherwise leave build/ behind in the repo."""
    shutil.copytree(root, destination, ignore=shutil.ignore_patterns(*_NOT_SOURCES), symlinks=True)
    return destination


def build_wheel(out_dir: Path, source_dir: Path | None = None) -> Path:
    """`pip wheel --no-deps` of `source_dir` (default: a clean copy of the repository), as
    the Dockerfile's wheel stage does; returns the .whl path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if source_dir is None:
        source_dir = copy_sources(out_dir / "src")
    before = set(out_dir.glob("*.whl"))
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out_dir), str(source_dir)],
        what="building the provider wheel",
    )
    built = sorted(set(out_dir.glob("*.whl")) - before)
    if len(built) != 1:
        raise InstallError(f"expected one new wheel in {out_dir}, found {built}")
    return built[0]


def wheel_top_level(wheel: Path) -> list[str]:
    """Top-level packages (`pkg`) and modules (`mod.py`) the wheel installs."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    return sorted(t for t in tops if not t.endswith((".dist-info", ".data")))


def wheel_digest(wheel: Path) -> str:
    """Hash of the wheel's members (names and bytes), not of the zip: timestamps differ per build."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".dist-info/RECORD"):
                digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.hexdigest()


@dataclass
class ClusterVenv:
    path: Path
    install_seconds: float  # 0.0 when a cached venv was reused
    cached: bool  # reused from $DUALENGINE_CLUSTER_VENV_CACHE
    in_cache: bool  # lives in that cache: keep it

    def remove(self) -> None:
        """Delete the venv (about 1 GB) unless the cache keeps it."""
        if not self.in_cache:
            shutil.rmtree(self.path, ignore_errors=True)

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"


def base_python() -> str:
    python = os.environ.get(PYTHON_ENV, "python3.11")
    if shutil.which(python) is None:
        raise InstallError(f"{python} not found: the cluster venv is made with `{python} -m venv` (set ${PYTHON_ENV})")
    return python


def install_command(python: Path, wheel: Path) -> list[str]:
    """The image's install line, for this venv."""
    return [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[{WHEEL_EXTRAS}]", "-r", str(REQUIREMENTS)]


def install_cluster_venv(path: Path, wheel: Path) -> ClusterVenv:
    """A fresh venv with the wheel installed the image's way, or (with
    $DUALENGINE_CLUSTER_VENV_CACHE) the cached one for this wheel and recipe."""
    python = base_python()
    cache = os.environ.get(VENV_CACHE_ENV)
    if cache:
        version = subprocess.run(
            [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
        ).stdout
        key = hashlib.sha256(
            f"{wheel_digest(wheel)}\n{REQUIREMENTS.read_text()}\n{WHEEL_EXTRAS}\n{version}".encode()
        ).hexdigest()[:16]
        path = Path(cache) / f"cluster-venv-{key}"
        if (path / ".complete").is_file():
            return ClusterVenv(path, 0.0, cached=True, in_cache=True)
        shutil.rmtree(path, ignore_errors=True)  # an interrupted build
    started = time.monotonic()
    run([python, "-m", "venv", str(path)], what="creating the cluster venv")
    run(install_command(path / "bin" / "python", wheel), what="installing the provider wheel into the cluster venv")
    (path / ".complete").write_text(str(wheel) + "\n")
    return ClusterVenv(path, time.monotonic() - started, cached=False, in_cache=bool(cache))


def run(argv: list[str], *, what: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    if result.returncode != 0:
        raise InstallError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result
