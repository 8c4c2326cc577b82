"""The execution windows of a project, found from what the scheduler and the triggerer
have: the project folders Airflow is configured with (`[dualengine] projects`, else
$DUALENGINE_PROJECT_DIR, as for the UI view). Read once per file change, so a priority
weight computed for every new task instance costs a dictionary lookup."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from airflow_provider_dualengine.config.project import PROJECT_DIR_ENV, Project, load_project
from airflow_provider_dualengine.config.resources import ResourcesSpec, load_resources, resources_file

_cache: dict[Path, tuple[tuple[float, ...], Project, ResourcesSpec]] = {}
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
    resources.yml changes. Raises DualEngineConfigError like load_project."""
    folder = folder.resolve()
    with _lock:
        cached = _cache.get(folder)
    if cached is not None:
        stamp, project, spec = cached
        if stamp == (_mtime(project.files["settings"]), _mtime(resources_file(project))):
            return project, spec
    project = load_project(folder)
    spec = load_resources(project)
    with _lock:
        _cache[folder] = ((_mtime(project.files["settings"]), _mtime(resources_file(project))), project, spec)
    return project, spec


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
