"""`config/model_organization.yml`: how models are organised across the engines (optional).

The seed's Model Organization: Pattern 2's layers (raw, integration, business,
presentation, each allowing one or both engines), Pattern 3's domains (same shape),
its naming conventions (`naming_conventions`: a prefix per engine, one for the models
behind a data contract, the cross-engine reference format) and its `transforms/`
directory structure. Every section is optional and an absent one checks nothing; how a
model is placed and judged is in governance/layers.py, naming.py and directories.py,
documented in docs/model-organization.md. No file: nothing is checked.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.names import Identifier
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

MODEL_ORGANIZATION_FILE = "config/model_organization.yml"
DOCS = "docs/model-organization.md"
# The seed's transforms/ layout: folders every project has, relative to its root.
SEED_FOLDERS = ("sqlmesh", "dbt", "shared/schemas", "shared/tests", "shared/documentation", "config")

EngineName = Literal["sqlmesh", "dbt"]
Severity = Literal["error", "warning"]
FindBy = Literal["folder", "tag", "schema"]
_FIND_BY: tuple[FindBy, ...] = ("folder", "tag", "schema")
# A model glob as governance.facts.matching_models reads it (`legacy_*`, `dbt:stg_*`, `raw.*`).
ModelGlob = Annotated[str, StringConstraints(pattern=r"^((sqlmesh|dbt):)?[A-Za-z0-9_.*?\[\]!-]+$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Prefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]+$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# A folder relative to the project root, `/`-separated, no `..` (checked below).
Folder = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _relative_folder(value: str) -> str:
    """`sqlmesh/models/raw/` -> `sqlmesh/models/raw`; an absolute path or `..` is refused: a
    folder is a prefix of the model files' project-relative paths."""
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or str(path) == ".":
        raise ValueError(f"'{value}' is not a folder inside the project (write it relative to the project folder)")
    return str(path)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Definition(_Strict):
    """One layer or domain: the engines its models may run on, and how a model is found in it."""

    engines: list[EngineName] = Field(min_length=1)
    folders: list[Folder] = Field(default_factory=list)  # project-relative path prefixes of model files
    tags: list[Tag] = Field(default_factory=list)  # the engines' own model tags
    schemas: list[Identifier] = Field(default_factory=list)  # SQLMesh schema / dbt configured schema
    reason: str = ""  # why these engines: every finding quotes it

    @field_validator("folders")
    @classmethod
    def _folders(cls, value: list[str]) -> list[str]:
        return [_relative_folder(v) for v in value]


class _Separation(_Strict):
    find_by: list[FindBy] = Field(default_factory=lambda: list(_FIND_BY), min_length=1)
    definitions: dict[Identifier, Definition] = Field(default_factory=dict)


class LayersSpec(_Separation):
    """Pattern 2: layer-based separation."""

    severity: Severity = "error"
    require_layer: bool = False  # a model in no layer is a finding

    @property
    def required(self) -> bool:
        return self.require_layer


class DomainsSpec(_Separation):
    """Pattern 3: domain-based separation."""

    severity: Severity = "warning"
    require_domain: bool = False

    @property
    def required(self) -> bool:
        return self.require_domain


class PrefixRule(_Strict):
    prefix: Prefix | None = None  # null or absent: this prefix is not checked
    example: str | None = None  # the seed's documentation key (`sqlm_customer_scoring`)


class CrossEngineRefs(_Strict):
    # How reports name a model of the other engine: `sqlmesh.staging.customer_enhanced`
    # (the seed's) or `sqlmesh:staging.customer_enhanced` (the artifact's node ids).
    format: Literal["engine.model_name", "engine:model_name"] = "engine.model_name"
    example: str | None = None
    # A read that bypasses ref()/source()/@dbt_model reads the same schema in every
    # environment; null: the naming section's severity.
    severity: Severity | None = None


class Exemption(_Strict):
    models: list[ModelGlob] = Field(min_length=1)
    reason: Reason


class NamingConventions(_Strict):
    enabled: bool = True
    severity: Severity = "warning"
    sqlmesh_models: PrefixRule | None = None
    dbt_models: PrefixRule | None = None
    shared_interfaces: PrefixRule | None = None  # models producing a data contract: instead of the engine's
    cross_engine_refs: CrossEngineRefs | None = None  # absent: cross-engine reads are not checked
    exempt: list[Exemption] = Field(default_factory=list)

    def prefix(self, rule: str) -> str | None:
        found = getattr(self, rule)
        return found.prefix if found is not None else None


class DirectoryStructure(_Strict):
    enabled: bool = True
    severity: Severity = "error"
    # Folders directly under <sqlmesh path>/models and <dbt path>/models a model file may be in.
    sqlmesh_model_folders: list[Folder] = Field(default_factory=lambda: ["staging", "intermediate", "shared"])
    dbt_model_folders: list[Folder] = Field(default_factory=lambda: ["marts", "staging", "intermediate"])
    contracts_folder: Folder = "shared/schemas"
    required_folders: list[Folder] = Field(default_factory=lambda: list(SEED_FOLDERS))

    @field_validator("sqlmesh_model_folders", "dbt_model_folders", "required_folders")
    @classmethod
    def _folders(cls, value: list[str]) -> list[str]:
        return [_relative_folder(v) for v in value]

    @field_validator("contracts_folder")
    @classmethod
    def _folder(cls, value: str) -> str:
        return _relative_folder(value)


class ModelOrganizationSpec(_Strict):
    layers: LayersSpec | None = None
    domains: DomainsSpec | None = None
    naming_conventions: NamingConventions | None = None
    directory_structure: DirectoryStructure | None = None

    @property
    def naming(self) -> NamingConventions | None:
        """The naming section when it checks anything."""
        return self.naming_conventions if self.naming_conventions and self.naming_conventions.enabled else None

    @property
    def directories(self) -> DirectoryStructure | None:
        return self.directory_structure if self.directory_structure and self.directory_structure.enabled else None

    @property
    def ref_format(self) -> str:
        """How messages name a model of either engine."""
        refs = self.naming_conventions.cross_engine_refs if self.naming_conventions else None
        return refs.format if refs else "engine.model_name"


def model_organization_file(project: Project) -> Path:
    explicit = project.files.get("model_organization")
    return explicit if explicit is not None else (project.root / MODEL_ORGANIZATION_FILE).resolve()


def load_model_organization(project: Project) -> ModelOrganizationSpec | None:
    """The project's organisation rules; None without the file. Raises
    DualEngineConfigError naming every problem (file, key, what, fix)."""
    path = model_organization_file(project)
    if not path.exists():
        return None
    return read_model_organization(path, project.root)


def read_model_organization(path: Path, root: Path | None = None) -> ModelOrganizationSpec:
    """Read and check one file; `root` (the project folder) lets folders be checked to exist."""
    data, issues = read_yaml(path)
    if issues:
        raise DualEngineConfigError(issues)
    if data is None:
        return ModelOrganizationSpec()  # only comments: every section off
    spec, issues = validate_document(ModelOrganizationSpec, data, path)
    if spec is None:
        raise DualEngineConfigError([_with_hint(i) for i in issues])
    for section in ("layers", "domains"):
        separation = getattr(spec, section)
        if separation is not None:
            issues += _separation_issues(section, separation, path, root)
    if spec.naming_conventions is not None:
        issues += _naming_issues(spec.naming_conventions, path)
    if issues:
        raise DualEngineConfigError(issues)
    return spec


_FIX_UNKNOWN = f"remove the key or check its spelling (the keys are listed in {DOCS})"


def _with_hint(issue: ConfigIssue) -> ConfigIssue:
    key = issue.key
    if "exempt[" in key and key.endswith(".reason"):
        hint = "say why these models are exempt (lint shows it), e.g. `reason: renamed when the dashboards move`"
    elif "models[" in key and "pattern" in issue.message:
        hint = "a model name or glob: `legacy_*`, `reporting.*`, `dbt:stg_*`, `sqlmesh:raw.*`"
    elif key.endswith(".prefix") and "pattern" in issue.message:
        hint = "letters, digits and underscores, e.g. `sqlm_`; null switches the prefix off"
    elif "Extra inputs" in issue.message:
        hint = _FIX_UNKNOWN
    else:
        hint = issue.hint or f"see {DOCS}"
    return ConfigIssue(issue.file, key, issue.message, hint)


_METHOD_KEY = {"folder": "folders", "tag": "tags", "schema": "schemas"}


def _separation_issues(section: str, spec: _Separation, path: Path, root: Path | None) -> list[ConfigIssue]:
    """Per definition: something to be found by, and only by methods `find_by` uses; the
    same folder, tag or schema claimed twice (a model there would be in both); a folder
    inside another definition's folder (the same); a folder that does not exist."""
    issues: list[ConfigIssue] = []
    what = section.rstrip("s")
    if len(set(spec.find_by)) != len(spec.find_by):
        issues.append(ConfigIssue(path, f"{section}.find_by", "a method is listed twice", "list each method once"))
    claimed: dict[tuple[str, str], str] = {}  # (method, value) -> definition
    for name, definition in spec.definitions.items():
        key = f"{section}.definitions.{name}"
        if len(set(definition.engines)) != len(definition.engines):
            issues.append(ConfigIssue(path, f"{key}.engines", "an engine is listed twice", "list each engine once"))
        given = [m for m in _METHOD_KEY if getattr(definition, _METHOD_KEY[m])]
        if not given:
            issues.append(
                ConfigIssue(
                    path,
                    key,
                    f"the {what} has no folders, tags or schemas, so no model can be found in it",
                    f"give the folders (or tags, schemas) of its models, e.g. `folders: [sqlmesh/models/{name}]`",
                )
            )
        for method in given:
            values = getattr(definition, _METHOD_KEY[method])
            if method not in spec.find_by:
                issues.append(
                    ConfigIssue(
                        path,
                        f"{key}.{_METHOD_KEY[method]}",
                        f"{_METHOD_KEY[method]} are given but {section}.find_by does not include {method}, so they are never used",
                        f"add {method} to {section}.find_by, or remove {_METHOD_KEY[method]}",
                    )
                )
            for index, value in enumerate(values):
                other = claimed.get((method, value))
                if other == name:
                    issues.append(
                        ConfigIssue(
                            path, f"{key}.{_METHOD_KEY[method]}[{index}]", f"'{value}' is listed twice", "list it once"
                        )
                    )
                elif other is not None:
                    issues.append(_claimed_twice(path, section, method, value, other, name, index))
                claimed.setdefault((method, value), name)
    return issues + _nested_folders(section, spec, path) + (_missing_folders(section, spec, path, root) if root else [])


def _missing_folders(section: str, spec: _Separation, path: Path, root: Path) -> list[ConfigIssue]:
    """A folder that is not there: a typo would otherwise match no model, silently."""
    return [
        ConfigIssue(
            path,
            f"{section}.definitions.{name}.folders[{index}]",
            f"folder {folder} does not exist in {root}",
            "fix the path (relative to the project folder, e.g. sqlmesh/models/staging) or remove it",
        )
        for name, definition in spec.definitions.items()
        for index, folder in enumerate(definition.folders)
        if not (root / folder).is_dir()
    ]


def _claimed_twice(
    path: Path, section: str, method: str, value: str, first: str, second: str, index: int
) -> ConfigIssue:
    return ConfigIssue(
        path,
        f"{section}.definitions.{second}.{_METHOD_KEY[method]}[{index}]",
        f"{method} '{value}' is claimed by both {first} and {second}: a model found by it would be in both",
        f"keep '{value}' in one of them",
    )


def _nested_folders(section: str, spec: _Separation, path: Path) -> list[ConfigIssue]:
    issues = []
    folders = [(PurePosixPath(f), name, i) for name, d in spec.definitions.items() for i, f in enumerate(d.folders)]
    for inner, name, index in folders:
        for outer, other, _ in folders:
            if other != name and inner != outer and inner.is_relative_to(outer):
                issues.append(
                    ConfigIssue(
                        path,
                        f"{section}.definitions.{name}.folders[{index}]",
                        f"folder {inner} is inside {outer} of {other}: its models would be in both",
                        f"move the models of {inner} out of {outer}, or list the sibling folders of {outer} instead of {outer} itself",
                    )
                )
    return issues


def _naming_issues(spec: NamingConventions, path: Path) -> list[ConfigIssue]:
    """An `example` that does not follow its own prefix, and a glob exempted twice."""
    issues = []
    for rule in ("sqlmesh_models", "dbt_models", "shared_interfaces"):
        found: PrefixRule | None = getattr(spec, rule)
        if found and found.prefix and found.example and not found.example.split(".")[-1].startswith(found.prefix):
            issues.append(
                ConfigIssue(
                    path,
                    f"naming_conventions.{rule}.example",
                    f"the example '{found.example}' does not start with the prefix '{found.prefix}'",
                    f"write an example that follows it, e.g. {found.prefix}{found.example.split('.')[-1]}",
                )
            )
    seen: dict[str, int] = {}
    for index, exemption in enumerate(spec.exempt):
        for glob in exemption.models:
            if glob in seen:
                issues.append(
                    ConfigIssue(
                        path,
                        f"naming_conventions.exempt[{index}].models",
                        f"'{glob}' is already exempt in exempt[{seen[glob]}]",
                        "keep it in one entry (with the reason that applies)",
                    )
                )
            seen.setdefault(glob, index)
    return issues
