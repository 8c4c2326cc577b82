"""Which projects the view shows, and each one's compiled graph and contracts.

The api-server does not parse DAG files, so it is told where the projects are:
`[dualengine] projects` (comma-separated folders holding `dualengine.yml`; env
AIRFLOW__DUALENGINE__PROJECTS), else $DUALENGINE_PROJECT_DIR, the variable the example DAG
files read. Each project is loaded from its compiled artifact (`dualengine compile`) and
kept until the artifact changes, so a page view does not rebuild a 1,000-model graph.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_dualengine.config.contracts import Contract, load_contracts
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.config.project import PROJECT_DIR_ENV, Project, ResolvedEnvironment, load_project
from airflow_provider_dualengine.engines.catalog import CatalogModel
from airflow_provider_dualengine.graph import Engine, UnifiedGraph
from airflow_provider_dualengine.graph.build import build_graph, load_catalogs

PROD = "prod"  # the SQLMesh environment name of production


@dataclass(frozen=True)
class LoadedProject:
    """A project as the pages read it."""

    project: Project
    graph: UnifiedGraph
    models: dict[tuple[Engine, str], CatalogModel]
    contracts: list[Contract]
    problems: list[str]  # what could not be read (shown on the page, never a 500)

    @property
    def name(self) -> str:
        return self.project.settings.name

    @property
    def conn_id(self) -> str:
        return self.project.settings.warehouse.conn_id

    def environments(self) -> list[ResolvedEnvironment]:
        return [self.project.environment(name) for name in self.project.environments]

    def production(self) -> ResolvedEnvironment | None:
        """The environment whose SQLMesh environment is prod."""
        return next((e for e in self.environments() if e.sqlmesh_environment == PROD), None)

    def rollback_dag_id(self, environment: str) -> str:
        """The DAG `build_rollback_dag` names by default for `environment`."""
        return f"dualengine_{self.name}_{environment}_rollback"

    def deploy_dag_id(self, environment: str) -> str:
        """The DAG `build_deploy_dag` names by default for `environment`."""
        return f"dualengine_{self.name}_{environment}_deploy"

    def has_model(self, node: str) -> bool:
        """`node` is 'engine:name' of one of this project's models."""
        return bool(self.graph.models_graph.matching(node)) if ":" in node else False

    def has_contract(self, name: str) -> bool:
        return any(c.model.name == name for c in self.contracts)


class ProjectsNotConfigured(LookupError):
    """No project folder is configured for the view."""


def configured_dirs() -> list[Path]:
    """The folders Airflow is configured with; the scheduler reads the same (resources/windows.py)."""
    from airflow_provider_dualengine.resources.windows import configured_project_dirs

    return configured_project_dirs()


_cache: dict[Path, tuple[tuple, LoadedProject]] = {}
_lock = threading.Lock()


def load_all() -> list[LoadedProject]:
    dirs = configured_dirs()
    if not dirs:
        raise ProjectsNotConfigured(
            "no dual-engine project is configured for this view: set [dualengine] projects in airflow.cfg "
            f"(or AIRFLOW__DUALENGINE__PROJECTS) on the api-server to the folders holding dualengine.yml, comma-separated, or ${PROJECT_DIR_ENV}"
        )
    return [load_one(d) for d in dirs]


def load_one(folder: Path) -> LoadedProject:
    """The project in `folder`, from cache while its compiled artifact is unchanged."""
    project = load_project(folder)
    stamp = _stamp(project)
    with _lock:
        cached = _cache.get(project.root)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    loaded = _load(project)
    with _lock:
        _cache[project.root] = (stamp, loaded)
    return loaded


def _stamp(project: Project) -> tuple:
    """What the loaded project depends on: the artifact, the config files, the contracts."""
    paths = [project.artifact_path, *project.files.values(), *sorted(project.contracts_path.glob("*.yml"))]
    found: list[tuple[str, int | None, int | None]] = []
    for path in paths:
        try:
            info = path.stat()
            found.append((str(path), info.st_mtime_ns, info.st_size))
        except OSError:
            found.append((str(path), None, None))
    return tuple(found)


def _load(project: Project) -> LoadedProject:
    problems: list[str] = []
    catalogs, issues = load_catalogs(project)
    problems += [str(i) for i in issues]
    try:
        graph = build_graph(project, catalogs)
    except DualEngineConfigError as exc:
        problems.append(str(exc))
        graph = UnifiedGraph()
    models = {(engine, name): m for engine, catalog in catalogs.items() for name, m in catalog.models.items()}
    contracts, contract_issues = load_contracts(project.contracts_path)
    problems += [str(i) for i in contract_issues]
    return LoadedProject(project, graph, models, contracts, problems)
