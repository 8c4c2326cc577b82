"""`dualengine.yml` (the project's settings) and the loaded, cross-checked project.

A project directory holds `dualengine.yml`, a SQLMesh project, a dbt project and the
`config/` YAML files. `load_project` reads them all and reports every problem at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from airflow_provider_dualengine.config.dependency_graph import DependencyGraphSpec
from airflow_provider_dualengine.config.environments import EnvironmentSpec, EnvironmentsSpec
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.names import Identifier
from airflow_provider_dualengine.config.yaml_files import read_text, read_yaml, validate_document, yaml_syntax_issue

SETTINGS_FILE = "dualengine.yml"
PROJECT_DIR_ENV = "DUALENGINE_PROJECT_DIR"
ENVIRONMENT_ENV = "DUALENGINE_ENVIRONMENT"
# The dbt var through which dbt sources (and ref() of SQLMesh models) get the SQLMesh
# environment's view-schema suffix ("__dev"; "" in prod). `dbt.sqlmesh_suffix_var` renames it.
DEFAULT_SQLMESH_SUFFIX_VAR = "sqlmesh_schema_suffix"


def _relative_path(value: str) -> str:
    """Paths in dualengine.yml are relative to it; an empty one would silently mean the
    project folder itself (`sqlmesh: {path: ""}` loading the whole project as SQLMesh)."""
    if not value.strip():
        raise PydanticCustomError("empty_path", "the path is empty, which would mean the project folder itself")
    return value


RelativePath = Annotated[str, AfterValidator(_relative_path)]


class WarehouseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conn_id: Identifier = "dualengine_warehouse"
    type: Literal["duckdb", "postgres"] = "duckdb"
    # Airflow pool serialising writers; DuckDB allows one writing process per file.
    pool: Identifier | None = None

    @property
    def writer_pool(self) -> str | None:
        if self.pool:
            return self.pool
        return self.conn_id if self.type == "duckdb" else None


class SQLMeshSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: RelativePath = "sqlmesh"
    gateway: Identifier | None = None


class DbtSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: RelativePath = "dbt"
    profile: Identifier
    schema_: Identifier = Field(default="analytics", alias="schema")
    manifest: RelativePath = "target/manifest.json"
    # The dbt var the provider sets to the SQLMesh view-schema suffix of the environment;
    # dbt sources over SQLMesh models must use it: "staging{{ var('<this>', '') }}".
    sqlmesh_suffix_var: Identifier = DEFAULT_SQLMESH_SUFFIX_VAR


class ProjectSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Identifier
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    sqlmesh: SQLMeshSettings = Field(default_factory=SQLMeshSettings)
    dbt: DbtSettings
    dependency_graph: RelativePath = "config/dependency_graph.yml"
    environments: RelativePath = "config/dual_engine_environments.yml"
    default_environment: Identifier
    contracts: RelativePath = "shared/schemas"  # data contracts between the engines (*.yml)
    # Written by `dualengine compile`, read at DAG parse time.
    compiled: RelativePath = "target/dualengine.json"


@dataclass(frozen=True)
class ResolvedEnvironment:
    """What one named environment means for each engine."""

    name: str
    sqlmesh_environment: str
    sqlmesh_gateway: str | None
    sqlmesh_view_suffix: str
    dbt_target: str
    dbt_schema: str


@dataclass(frozen=True)
class Project:
    """A validated project with absolute paths; what every later layer receives."""

    root: Path
    settings: ProjectSettings
    graph_spec: DependencyGraphSpec
    environments: dict[str, EnvironmentSpec]
    files: dict[str, Path]

    @property
    def sqlmesh_path(self) -> Path:
        return (self.root / self.settings.sqlmesh.path).resolve()

    @property
    def dbt_path(self) -> Path:
        return (self.root / self.settings.dbt.path).resolve()

    @property
    def contracts_path(self) -> Path:
        return (self.root / self.settings.contracts).resolve()

    @property
    def artifact_path(self) -> Path:
        return (self.root / self.settings.compiled).resolve()

    @cached_property
    def dbt_project_name(self) -> str:
        name, issues, _ = _dbt_project_name(self.dbt_path / "dbt_project.yml")
        if name is None:
            raise DualEngineConfigError(issues)
        return name

    @property
    def dbt_manifest_path(self) -> Path:
        return (self.dbt_path / self.settings.dbt.manifest).resolve()

    def gateway_setting(self, environment: str) -> tuple[Path, str]:
        """(file, key) where the SQLMesh gateway of `environment` is set, for messages."""
        if self.environments[environment].sqlmesh.gateway:
            return self.files["environments"], f"environments.{environment}.sqlmesh.gateway"
        return self.files["settings"], "sqlmesh.gateway"

    def environment(self, name: str | None = None) -> ResolvedEnvironment:
        """The named environment, else $DUALENGINE_ENVIRONMENT, else the project's default."""
        name = name or os.environ.get(ENVIRONMENT_ENV) or self.settings.default_environment
        if name not in self.environments:
            raise DualEngineConfigError(
                [
                    ConfigIssue(
                        self.files["environments"],
                        "environments",
                        f"unknown environment '{name}'",
                        f"use one of: {', '.join(sorted(self.environments))}",
                    )
                ]
            )
        spec = self.environments[name]
        suffix = spec.sqlmesh.environment_suffix
        return ResolvedEnvironment(
            name=name,
            sqlmesh_environment=spec.sqlmesh.name,
            sqlmesh_gateway=spec.sqlmesh.gateway or self.settings.sqlmesh.gateway,
            sqlmesh_view_suffix=spec.sqlmesh.view_schema_suffix,
            dbt_target=spec.dbt.target,
            dbt_schema=spec.dbt.schema_ or f"{self.settings.dbt.schema_}{suffix}",
        )


def resolve_project_dir(project_dir: str | os.PathLike[str] | None) -> Path:
    """The explicit argument, else $DUALENGINE_PROJECT_DIR."""
    chosen = project_dir or os.environ.get(PROJECT_DIR_ENV)
    if not chosen:
        raise DualEngineConfigError(
            [
                ConfigIssue(
                    None, "project_dir", "no project directory given", f"pass project_dir or set ${PROJECT_DIR_ENV}"
                )
            ]
        )
    return Path(chosen).expanduser().resolve()


def _dbt_project_name(path: Path) -> tuple[str | None, list[ConfigIssue], str | None]:
    """(`name:`, issues, `profile:`) of a dbt_project.yml, read as dbt reads it (plain
    YAML, no strictness)."""
    import yaml

    text, issues = read_text(path)
    if text is None:
        return None, issues, None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return (
            None,
            [yaml_syntax_issue(path, exc, text, "fix the YAML syntax; `dbt parse` reports the same file")],
            None,
        )
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        return (
            None,
            [
                ConfigIssue(
                    path, "name", "the dbt project has no `name`", "add `name: <project name>` (dbt requires it)"
                )
            ],
            None,
        )
    profile = data.get("profile")
    return name, [], profile if isinstance(profile, str) else None


def _project_root(project_dir: str | os.PathLike[str] | None) -> Path:
    root = resolve_project_dir(project_dir)
    if root.is_dir():
        return root
    if root.exists():
        hint = f"pass the folder holding {SETTINGS_FILE}" + (f" ({root.parent})" if root.name == SETTINGS_FILE else "")
        raise DualEngineConfigError([ConfigIssue(root, "", "is a file, not a project folder", hint)])
    raise DualEngineConfigError(
        [
            ConfigIssue(
                root,
                "",
                "project folder does not exist",
                f"pass the folder holding {SETTINGS_FILE} (or set ${PROJECT_DIR_ENV})",
            )
        ]
    )


def load_project(project_dir: str | os.PathLike[str] | None = None) -> Project:
    """Read and validate `dualengine.yml` and the files it points to.

    Raises DualEngineConfigError listing every problem found (file, key, what, fix).
    Checks that need the engines' model lists live in the graph layer.
    """
    root = _project_root(project_dir)
    settings_file = root / SETTINGS_FILE
    data, issues = read_yaml(settings_file)
    if issues:
        if not settings_file.exists():
            issues = [
                ConfigIssue(
                    settings_file,
                    "",
                    "not a dual-engine project: dualengine.yml not found",
                    f"create {SETTINGS_FILE} in the project directory, or point to the right directory",
                )
            ]
        raise DualEngineConfigError(issues)
    settings, issues = validate_document(ProjectSettings, data, settings_file)
    if settings is None:
        raise DualEngineConfigError(issues)

    files = {
        "settings": settings_file,
        "dependency_graph": (root / settings.dependency_graph).resolve(),
        "environments": (root / settings.environments).resolve(),
    }
    graph_data, graph_issues = read_yaml(files["dependency_graph"])
    graph_spec = None
    if not graph_issues:
        graph_spec, graph_issues = validate_document(DependencyGraphSpec, graph_data, files["dependency_graph"])
    env_data, env_issues = read_yaml(files["environments"])
    env_spec = None
    if not env_issues:
        env_spec, env_issues = validate_document(EnvironmentsSpec, env_data, files["environments"])
    issues = graph_issues + env_issues

    dbt_name = None
    for label, folder, marker in (
        ("sqlmesh.path", settings.sqlmesh.path, None),
        ("dbt.path", settings.dbt.path, "dbt_project.yml"),
    ):
        path = (root / folder).resolve()
        if not path.is_dir() or (marker and not (path / marker).is_file()):
            what = f"{path} is not a directory" if not path.is_dir() else f"{path} has no {marker}"
            issues.append(
                ConfigIssue(
                    settings_file, label, what, "point it at the engine's project folder, relative to dualengine.yml"
                )
            )
        elif marker:
            dbt_name, name_issues, profile = _dbt_project_name(path / marker)
            issues.extend(name_issues)
            if profile is not None and profile != settings.dbt.profile:
                issues.append(
                    ConfigIssue(
                        settings_file,
                        "dbt.profile",
                        f"'{settings.dbt.profile}' is not the profile {path / marker} uses ('{profile}'), so dbt would find no profile",
                        f"set dbt.profile: {profile} (or change `profile:` in dbt_project.yml)",
                    )
                )
    contracts = (root / settings.contracts).resolve()
    if contracts.exists() and not contracts.is_dir():
        issues.append(
            ConfigIssue(
                settings_file,
                "contracts",
                f"{contracts} is a file, not a folder of contract files",
                "point it at the folder holding the contract *.yml files",
            )
        )
    elif "contracts" in settings.model_fields_set and not contracts.is_dir():
        issues.append(
            ConfigIssue(
                settings_file,
                "contracts",
                f"contracts folder {contracts} does not exist, so no contract would be checked",
                "create it, fix the path (relative to dualengine.yml), or remove the setting",
            )
        )
    if env_spec is not None and settings.default_environment not in env_spec.environments:
        issues.append(
            ConfigIssue(
                settings_file,
                "default_environment",
                f"'{settings.default_environment}' is not defined in {files['environments'].name}",
                f"use one of: {', '.join(sorted(env_spec.environments))}",
            )
        )
    if issues:
        raise DualEngineConfigError(issues)
    assert graph_spec is not None and env_spec is not None
    project = Project(
        root=root, settings=settings, graph_spec=graph_spec, environments=env_spec.environments, files=files
    )
    if dbt_name is not None:
        project.__dict__["dbt_project_name"] = dbt_name  # read once here; cached_property's slot
    return project
