"""The compiled artifact (`target/dualengine.json`) as typed objects.

`format_version` (the JSON key `version`, which every provider release has written and
checked) says which layout a file has: a file from a newer provider is refused with the
fix (upgrade, or recompile with this one), and one from an older provider asks to be
recompiled. Sections accept keys they do not know and write them back unchanged.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.project import DEFAULT_SQLMESH_SUFFIX_VAR
from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog

ARTIFACT_VERSION = 1


class ArtifactProblem(Exception):
    """The artifact is missing, unreadable, from another version, or stale."""


class ArtifactVersionError(ArtifactProblem, DualEngineConfigError):
    """The artifact's format is not the one this provider reads: a configuration error
    naming the file, the `version` key and the fix, and an ArtifactProblem (recompiling
    cures it)."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class SQLMeshModelEntry(_Section):
    """One SQLMesh model as `describe_sqlmesh_project` records it."""

    kind: str
    depends_on: tuple[str, ...]  # models of the project
    external_depends_on: tuple[str, ...] = ()  # tables that are no model of the project
    cron: str | None = None
    columns: dict[str, str] = {}
    python: bool = False
    path: str | None = None
    dialect: str | None = None
    audits: tuple[str, ...] = ()
    column_lineage: dict[str, tuple[str, ...]] = {}  # column -> upstream `schema.table.column`s
    columns_read: dict[str, tuple[str, ...]] | None = None  # input -> columns read (CatalogModel)
    reads_files: tuple[str, ...] = ()  # files loaded (seed CSVs), relative to the SQLMesh project
    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    query: str | None = None  # rendered SQL (None: Python/seed model, or not renderable offline)
    # SQLMesh's own fingerprint of the model's data (what its plan diff compares); None: older artifact
    data_hash: str | None = None
    metadata_hash: str | None = None  # audits, start, grain, description...: also a change SQLMesh plans for

    @field_validator("columns", "column_lineage", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    def catalog_model(self, name: str) -> CatalogModel:
        return CatalogModel(
            engine="sqlmesh",
            name=name,
            path=Path(self.path) if self.path else None,
            kind=self.kind,
            schema=name.split(".")[0],
            depends_on=self.depends_on,
            cron=self.cron,
            columns=dict(self.columns),
            reads_tables=self.external_depends_on,
            checks=self.audits,
            columns_read=dict(self.columns_read) if self.columns_read is not None else None,
            reads_files=self.reads_files,
            owner=self.owner,
        )


class SQLMeshSection(_Section):
    project_path: str | None = None
    gateway: str | None = None
    gateways: list[str] | None = None  # None: the config has one unnamed gateway
    models: dict[str, SQLMeshModelEntry]

    @property
    def records_gateways(self) -> bool:
        """False for artifacts written before gateway names were recorded."""
        return "gateways" in self.model_fields_set

    def catalog(self, source: Path) -> ModelCatalog:
        return ModelCatalog(
            engine="sqlmesh", source=source, models={n: m.catalog_model(n) for n, m in self.models.items()}
        )


class DbtSection(_Section):
    manifest: str  # relative to the project root
    models: dict[str, dict[str, Any]]  # `ModelCatalog.to_json()` of the parsed manifest
    sqlmesh_suffix_var: str = DEFAULT_SQLMESH_SUFFIX_VAR
    # Why the models' column use is unknown (dbt could not compile without a warehouse).
    columns_read_problem: str | None = None

    def catalog(self, project_root: Path) -> ModelCatalog:
        return ModelCatalog.from_json("dbt", project_root / self.manifest, self.models)


class CrossEngineEdge(_Section):
    from_: str = Field(alias="from")  # `engine:model`
    to: str
    via: str


class CompiledArtifact(_Section):
    format_version: int = Field(alias="version")
    sources: dict[str, tuple[int, int, str]]  # `<engine folder>/<path>` -> size, mtime_ns, sha256
    sqlmesh: SQLMeshSection
    dbt: DbtSection
    cross_engine_edges: tuple[CrossEngineEdge, ...] = ()

    def catalogs(self, project_root: Path, sqlmesh_path: Path) -> dict[Engine, ModelCatalog]:
        """Both engines' model lists, as the graph layer and the factory use them."""
        return {Engine.SQLMESH: self.sqlmesh.catalog(sqlmesh_path), Engine.DBT: self.dbt.catalog(project_root)}

    def to_json(self) -> dict[str, Any]:
        """The document as written: the keys it was built or read with, nothing added."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


def parse_artifact(data: Any, path: Path, project_root: Path) -> CompiledArtifact:
    """The typed artifact from a parsed JSON document. Raises ArtifactVersionError for
    another format version, ArtifactProblem for a document `dualengine compile` did not write."""
    if isinstance(data, dict):
        check_format_version(data.get("version"), path, project_root)
    problem = _shape_problem(data)
    if problem is None:
        try:
            return CompiledArtifact.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            problem = f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
    raise ArtifactProblem(f"compiled artifact {path} is not what `dualengine compile` writes: {problem}")


def check_format_version(version: Any, path: Path, project_root: Path) -> None:
    if isinstance(version, int) and not isinstance(version, bool):
        if version == ARTIFACT_VERSION:
            return
        if version > ARTIFACT_VERSION:
            raise ArtifactVersionError(
                [
                    ConfigIssue(
                        path,
                        "version",
                        f"the compiled artifact has format version {version}, written by a newer airflow-provider-dualengine; this provider reads format {ARTIFACT_VERSION}",
                        f"upgrade airflow-provider-dualengine to the release that compiled it, or recompile with this one: `dualengine compile {project_root}`",
                    )
                ]
            )
    found = "no format version" if version is None else f"format version {version!r}"
    raise ArtifactVersionError(
        [
            ConfigIssue(
                path,
                "version",
                f"the compiled artifact has {found} (written by an older provider, or not by `dualengine compile`); this provider reads format {ARTIFACT_VERSION}",
                f"recompile: `dualengine compile {project_root}`",
            )
        ]
    )


_DBT_MODEL_FIELDS = {f.name for f in fields(CatalogModel)}


def _shape_problem(artifact: Any) -> str | None:
    """What makes a parsed artifact unusable (not written by `dualengine compile`, or cut
    short), or None; in words a person can act on, before the field-by-field validation."""
    if not isinstance(artifact, dict):
        return f"the document is a JSON {type(artifact).__name__}, not an object"
    missing = [key for key in ("sources", "sqlmesh", "dbt") if key not in artifact]
    if missing:
        return f"it has no {', '.join(repr(k) for k in missing)}"
    sources, sqlmesh, dbt = artifact["sources"], artifact["sqlmesh"], artifact["dbt"]
    if not isinstance(sources, dict) or not all(isinstance(v, list) and len(v) == 3 for v in sources.values()):
        return "'sources' is not a map of file -> [size, mtime, sha256]"
    if not isinstance(sqlmesh, dict) or not isinstance(sqlmesh.get("models"), dict):
        return "'sqlmesh.models' is missing or not an object"
    for name, model in sqlmesh["models"].items():
        if (
            not isinstance(model, dict)
            or not isinstance(model.get("kind"), str)
            or not isinstance(model.get("depends_on"), list)
        ):
            return f"SQLMesh model '{name}' has no kind or depends_on"
    if not isinstance(dbt, dict) or not isinstance(dbt.get("manifest"), str) or not isinstance(dbt.get("models"), dict):
        return "'dbt.manifest' or 'dbt.models' is missing"
    for name, model in dbt["models"].items():
        if not isinstance(model, dict) or not {"engine", "name"} <= set(model) <= _DBT_MODEL_FIELDS:
            return f"dbt model '{name}' is not a model entry"
    return None
