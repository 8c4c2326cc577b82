"""What an engine task takes from `config/resources.yml`, and what its warehouse session says.

An engine task (SQLMesh plan/run/..., dbt build) applies its engine's allocation in the
environment it runs: dbt `threads` or SQLMesh `concurrent_tasks`, and the warehouse
`session` settings (resources/allocation.py). Values passed to the operator win; else
they are read at run time from the dual-engine project the engine project belongs to
(`resources_from={"project_dir": ..., "environment": ...}` as the DAG factory passes, else the
`dualengine.yml` found in a folder above the engine project, the environment named by the
task or the one whose SQLMesh environment / dbt target the task uses). No resources file,
no project, or no allocation for the engine: nothing is applied, as before.

Stage tasks report the session they got in one log line, the XCom `warehouse_session`
({setting: value}, read back from the engine's session where that is cheap, else as
configured) and the XCom `warehouse_session_report` (which of the two, the engine's
threads / concurrent tasks, where the values came from: engines/session_settings.session_report).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.engines.session_settings import report_line

XCOM_KEY = "warehouse_session"  # {setting: value}, what the session has (read back, else configured)
XCOM_REPORT_KEY = "warehouse_session_report"  # engines/session_settings.session_report: how it was known
_PROJECT_SEARCH_DEPTH = 3  # folders above the engine project where dualengine.yml may be


@dataclass(frozen=True)
class EngineResources:
    """`parallelism`: dbt threads or SQLMesh concurrent_tasks (None: the engine's default)."""

    parallelism: int | None = None
    session: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # where the values came from, for the log line and the XCom


def engine_resources(
    engine: str,
    engine_path: str | Path | None,
    *,
    parallelism: int | None,
    session: Mapping[str, Any] | None,
    resources_from: Mapping[str, Any] | None,
    environment_hints: tuple[str | None, ...] = (),
    matches: Callable[[Any], bool] | None = None,
    log: Any = None,
) -> EngineResources:
    """The allocation an `engine` task applies (see the module doc).

    :param engine_path: the engine's project folder (SQLMesh project, dbt project).
    :param parallelism: / :param session: values given to the operator (they win).
    :param resources_from: `{"project_dir": ..., "environment": ...}`, both optional.
    :param environment_hints: dual-engine environment names the task knows, first wins.
    :param matches: whether a `ResolvedEnvironment` is the one the task runs in (its SQLMesh
        environment, its dbt target), when no name is known.
    """
    given = parallelism is not None or bool(session)
    explicit = EngineResources(parallelism, dict(session or {}), "operator arguments" if given else "")
    if parallelism is not None and session is not None:
        return explicit
    resources = dict(resources_from or {})
    project = _project(engine, engine_path, resources.get("project_dir"), log)
    if project is None:
        return explicit
    from airflow_provider_dualengine.config.resources import resources_file

    if not resources_file(project).exists():
        return explicit
    environment = _environment(project, engine, (resources.get("environment"), *environment_hints), matches, log)
    if environment is None:
        return explicit
    import pendulum

    from airflow_provider_dualengine.resources.allocation import allocations

    allocation = allocations(project, environment, pendulum.now("UTC"))[engine]
    configured = allocation.threads if engine == "dbt" else allocation.concurrent_tasks
    return EngineResources(
        parallelism if parallelism is not None else configured,
        dict(session) if session is not None else dict(allocation.session),
        f"{resources_file(project)} ({engine}_resources.{environment})" if allocation.session or configured else "",
    )


def _project(engine: str, engine_path: str | Path | None, project_dir: str | None, log: Any) -> Any:
    """The dual-engine project: the one named, else the first folder above the engine
    project (or $DUALENGINE_PROJECT_DIR) holding a dualengine.yml whose engine path is it."""
    from airflow_provider_dualengine.config.errors import DualEngineConfigError
    from airflow_provider_dualengine.config.project import PROJECT_DIR_ENV, SETTINGS_FILE, load_project

    if project_dir:
        return load_project(project_dir)
    if not engine_path:
        return None
    target = Path(engine_path).resolve()
    candidates = [*target.parents[:_PROJECT_SEARCH_DEPTH]]
    if os.environ.get(PROJECT_DIR_ENV):
        candidates.insert(0, Path(os.environ[PROJECT_DIR_ENV]).expanduser().resolve())
    for folder in dict.fromkeys(candidates):
        if not (folder / SETTINGS_FILE).is_file():
            continue
        try:
            project = load_project(folder)
        except DualEngineConfigError as exc:
            if log is not None:
                log.warning("%s: not used for engine resources (%s)", folder / SETTINGS_FILE, exc)
            continue
        if (project.sqlmesh_path if engine == "sqlmesh" else project.dbt_path) == target:
            return project
    return None


def _environment(
    project: Any, engine: str, hints: tuple[str | None, ...], matches: Callable[[Any], bool] | None, log: Any
) -> str | None:
    for name in hints:
        if name and name in project.environments:
            return name
    if matches is None:
        return None
    found = [name for name in project.environments if matches(project.environment(name))]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        # Environments sharing a SQLMesh environment or a dbt target: fine when they allocate alike.
        from airflow_provider_dualengine.config.resources import load_resources

        spec = load_resources(project)
        allocated = {repr(spec.resource_allocation.engine(engine, name)) for name in found}
        if len(allocated) == 1:
            return found[0]
        if log is not None:
            log.warning(
                "%s resources: environments %s all match this task and allocate differently; "
                "none applied (pass resources_from={'environment': ...})",
                engine,
                ", ".join(found),
            )
    return None


def report_session(task: Any, context: Any, report: dict[str, Any]) -> None:
    """One log line, and the XComs `warehouse_session` and `warehouse_session_report` when
    the task runs in Airflow."""
    task.log.info("%s", report_line(report))
    ti = context.get("ti") if context else None
    if ti is not None and hasattr(ti, "xcom_push"):
        ti.xcom_push(key=XCOM_KEY, value=dict(report["settings"]))
        ti.xcom_push(key=XCOM_REPORT_KEY, value=report)
