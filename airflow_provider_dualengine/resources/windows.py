"""The execution windows of a project, found from what the scheduler and the triggerer
have: the project folders Airflow is configured with (`[dualengine] projects`, else
$DUALENGINE_PROJECT_DIR, as for the UI view). Read once per file change, so a priority
weight computed for every new task instance costs a dictionary lookup."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from airflow_provider_dualengine.config.project import PROJECT_DIR_ENV, SETTINGS_FILE, Project, load_project
from airflow_provider_dualengine.config.resources import RESOURCES_FILE, ResourcesSpec, load_resources

_cache: dict[Path, tuple[tuple[float, float], tuple[Project, ResourcesSpec] | Exception]] = {}
_lock = threading.Lock()


def configured_project_dirs() -> list[Path]:
    """`[dualengine] projects` (comma-separated folders), else $DUALENGINE_PROJECT_DIR."""
    from airflow.configuration import conf

    raw = conf.get("dualengine", "projects", fallback="") or os.environ.get(PROJECT_DIR_ENV, "")
    return [Path(part.strip()) for part in raw.split(",") if part.strip()]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def project_resources(folder: Path) -> tuple[Project, ResourcesSpec]:
    """The project in `folder` and its resources, cached until dualengine.yml or
    config/resources.yml changes; a project that fails to load is cached as that failure
    too (the scheduler asks for every new task instance). Raises DualEngineConfigError
    like load_project."""
    folder = folder.resolve()
    stamp = (_mtime(folder / SETTINGS_FILE), _mtime(folder / RESOURCES_FILE))
    with _lock:
        cached = _cache.get(folder)
    if cached is None or cached[0] != stamp:
        try:
            project = load_project(folder)
            result: tuple[Project, ResourcesSpec] | Exception = (project, load_resources(project))
        except Exception as exc:  # noqa: BLE001 - kept and raised again until the files change
            result = exc
        cached = (stamp, result)
        with _lock:
            _cache[folder] = cached
    if isinstance(cached[1], Exception):
        raise cached[1]
    return cached[1]


def resources_of(project_name: str) -> tuple[Project, ResourcesSpec] | None:
    """The configured project named `project_name`, or None."""
    for folder in configured_project_dirs():
        try:
            project, spec = project_resources(folder)
        except Exception:  # noqa: BLE001 - a broken project elsewhere must not hide this one
            continue
        if project.settings.name == project_name:
            return project, spec
    return None
