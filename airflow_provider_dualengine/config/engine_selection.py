"""`config/engine_selection_rules.yml`: which engine each model should run on (optional).

The seed's "Decision Rules Configuration" with Pattern 1's criteria: conditions that
recommend SQLMesh (cost, complexity, reliability), conditions that recommend dbt (cheap,
simple, iterated on often, already dbt, read by a BI tool), per-model overrides with their
reason, and `declared:` values for what nothing measures. Every condition key is optional:
an absent key (or `false`) turns its rule off. How the rules decide is in
governance/selection.py and docs/engine-selection.md. No file: no recommendation at all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

ENGINE_SELECTION_FILE = "config/engine_selection_rules.yml"
DOCS = "docs/engine-selection.md"

EngineName = Literal["sqlmesh", "dbt"]
# A model glob as governance.facts.matching_models reads it: `engine:name`, a full name or
# a table name, with fnmatch wildcards (`fraud_*`, `simple_reporting.*`, `dbt:stg_*`).
ModelGlob = Annotated[str, StringConstraints(pattern=r"^((sqlmesh|dbt):)?[A-Za-z0-9_.*?\[\]!-]+$")]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Amount = Annotated[float, Field(ge=0)]
_AVAILABILITY = re.compile(r"^\s*(>=|>)\s*(\d{1,3}(?:\.\d+)?)\s*%\s*$")


def parse_availability_threshold(text: str) -> tuple[str, float]:
    """("> ", 99.9) of "> 99.9%"; ValueError for anything else (a bare "99.9%" says no direction)."""
    match = _AVAILABILITY.match(text)
    if not match or float(match[2]) > 100:
        raise ValueError(f"'{text}' is not an availability threshold like '> 99.9%' or '>= 99.5%'")
    return match[1], float(match[2])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostThreshold(_Strict):
    """SQLMesh when a model costs more than this a month, or runs longer than this."""

    monthly_cost_usd: Amount | None = None
    execution_time_minutes: Amount | None = None


class ComplexityIndicators(_Strict):
    python_required: StrictBool = False
    complex_window_functions: StrictBool = False
    ml_model_integration: StrictBool = False
    complexity_score: Annotated[int, Field(ge=1, le=10)] | None = None  # fires above it (Pattern 1: > 7)


class ReliabilityRequirements(_Strict):
    zero_downtime_deployment: StrictBool = False
    sla_availability: str | None = None  # "> 99.9%": fires for a contract promising more

    @field_validator("sla_availability")
    @classmethod
    def _threshold(cls, value: str | None) -> str | None:
        if value is not None:
            parse_availability_threshold(value)
        return value


class SqlmeshConditions(_Strict):
    cost_threshold: CostThreshold = Field(default_factory=CostThreshold)
    complexity_indicators: ComplexityIndicators = Field(default_factory=ComplexityIndicators)
    reliability_requirements: ReliabilityRequirements = Field(default_factory=ReliabilityRequirements)


class DbtConditions(_Strict):
    """Pattern 1's dbt criteria."""

    monthly_cost_usd_below: Amount | None = None
    simple_transformations: StrictBool = False  # complexity score <= SIMPLE_SCORE
    rapid_iteration_needed: StrictBool = False
    existing_dbt_model: StrictBool = False
    bi_tool_dependency: StrictBool = False


class Override(_Strict):
    models: list[ModelGlob] = Field(min_length=1)
    reason: Reason


class OverrideRules(_Strict):
    force_sqlmesh: Override | None = None
    force_dbt: Override | None = None


class Declared(_Strict):
    """Values nothing measures (no run history yet, no git), for the models a glob names."""

    models: list[ModelGlob] = Field(min_length=1)
    monthly_cost_usd: Amount | None = None
    execution_time_minutes: Amount | None = None
    zero_downtime_required: StrictBool | None = None
    rapid_iteration_needed: StrictBool | None = None


class EngineSelection(_Strict):
    default_engine: EngineName
    mismatch: Literal["warning", "error"] = "warning"  # how a model on the other engine is reported
    sqlmesh_conditions: SqlmeshConditions = Field(default_factory=SqlmeshConditions)
    dbt_conditions: DbtConditions = Field(default_factory=DbtConditions)
    override_rules: OverrideRules = Field(default_factory=OverrideRules)
    declared: list[Declared] = Field(default_factory=list)


class EngineSelectionSpec(_Strict):
    engine_selection: EngineSelection


def engine_selection_file(project: Project) -> Path:
    explicit = project.files.get("engine_selection")
    return explicit if explicit is not None else (project.root / ENGINE_SELECTION_FILE).resolve()


def load_engine_selection(project: Project) -> EngineSelectionSpec | None:
    """The project's selection rules; None without the file. Raises DualEngineConfigError
    naming every problem (file, key, what, fix)."""
    path = engine_selection_file(project)
    if not path.exists():
        return None
    return read_engine_selection(path)


def read_engine_selection(path: Path) -> EngineSelectionSpec:
    data, issues = read_yaml(path)
    if issues:
        raise DualEngineConfigError(issues)
    spec, issues = validate_document(EngineSelectionSpec, data, path)
    if spec is None:
        raise DualEngineConfigError([_with_hint(i) for i in issues])
    issues = _conflicts(spec.engine_selection, path)
    if issues:
        raise DualEngineConfigError(issues)
    return spec


_FIX_UNKNOWN = f"remove the key or check its spelling (the keys are listed in {DOCS})"


def _with_hint(issue: ConfigIssue) -> ConfigIssue:
    """Hints that name what this file expects where the generic one would not help."""
    key = issue.key
    if key.endswith(".reason"):
        hint = (
            "say why these models must run on that engine (every report shows it), e.g. `reason: BI tool integration`"
        )
    elif key.endswith("sla_availability"):
        hint = "write a direction and a percentage: '> 99.9%' or '>= 99.5%' (quote it)"
    elif "models[" in key and "pattern" in issue.message:
        hint = "a model name or glob: `customer_scoring`, `fraud_*`, `reporting.*`, `dbt:stg_*`, `sqlmesh:raw.*`"
    elif key.endswith("default_engine") or key.endswith(".mismatch"):
        hint = "use one of the allowed values"
    elif "Extra inputs" in issue.message:
        hint = _FIX_UNKNOWN
    else:
        hint = issue.hint or f"see {DOCS}"
    return ConfigIssue(issue.file, key, issue.message, hint)


def _conflicts(spec: EngineSelection, path: Path) -> list[ConfigIssue]:
    """The same glob in both force lists (a model they both match is checked against the
    compiled models in governance/selection.py)."""
    rules = spec.override_rules
    if rules.force_sqlmesh is None or rules.force_dbt is None:
        return []
    both = sorted(set(rules.force_sqlmesh.models) & set(rules.force_dbt.models))
    return [
        ConfigIssue(
            path,
            "engine_selection.override_rules",
            f"'{glob}' is in both force_sqlmesh and force_dbt",
            "keep it in the list of the engine it must run on",
        )
        for glob in both
    ]
