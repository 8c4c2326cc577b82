"""Which engine each model should run on, by config/engine_selection_rules.yml (Pattern 1).

The decision, per model, first that applies:

1. **Override**: a glob of `override_rules.force_sqlmesh` / `force_dbt` names the model ->
   that engine, with the list's reason. A model both lists name is a configuration error.
2. **SQLMesh conditions**: any that fires -> SQLMesh (cost or run time above the
   threshold, Python, complex window functions, ML imports, complexity score above the
   threshold, zero-downtime declared, a contract promising more availability).
3. **dbt conditions**: any that fires -> dbt (cost below the threshold, complexity score
   <= SIMPLE_SCORE, rapid iteration, already a dbt model, read by a dbt exposure).
4. **default_engine**.

A rule fires only on a known feature value (governance/features.py): unknown cost, time
or iteration speed never decides. The rule that decided is the first that fired in the
order of `active_rules`. A model whose current engine differs from the recommendation is a
mismatch: a Finding of the file's `mismatch` severity, naming the deciding rule, the
feature values and their sources. Override globs and `declared:` globs that name no
model are warnings (a typo would otherwise silently do nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.engine_selection import (
    EngineSelection,
    EngineSelectionSpec,
    engine_selection_file,
    load_engine_selection,
    parse_availability_threshold,
)
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts, matching_models
from airflow_provider_dualengine.governance.features import (
    HISTORY_DAYS,
    CommitCounts,
    Feature,
    ModelFeatures,
    RunHistory,
    git_commit_counts,
    model_features,
    read_run_history,
)
from airflow_provider_dualengine.governance.findings import Finding, Severity

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

SIMPLE_SCORE = 3  # dbt_conditions.simple_transformations: complexity score at most this


@dataclass(frozen=True)
class Rule:
    """One condition of the file, switched on: which feature it reads and when it fires."""

    name: str
    engine: Engine
    key: str  # where it is set, e.g. sqlmesh_conditions.cost_threshold.monthly_cost_usd
    feature: str
    condition: str  # "> 1000 USD/month", as the report prints it
    fires: Callable[[Any], bool]


def _above(limit: float) -> Callable[[Any], bool]:
    return lambda v: v > limit


def _is_true(v: Any) -> bool:
    return v is True


def active_rules(spec: EngineSelection) -> list[Rule]:
    """The conditions the file switches on: SQLMesh's first, in the order that names the
    deciding rule (the docs' table order)."""
    rules: list[Rule] = []
    sm, dbt = spec.sqlmesh_conditions, spec.dbt_conditions

    def add(engine: Engine, key: str, condition: str, fires: Callable[[Any], bool], feature: str = "") -> None:
        name = key.rsplit(".", 1)[-1]  # the rule is named by its key
        rules.append(Rule(name, engine, key, feature or name, condition, fires))

    cost, key = sm.cost_threshold, "sqlmesh_conditions.cost_threshold"
    if cost.monthly_cost_usd is not None:
        add(
            Engine.SQLMESH,
            f"{key}.monthly_cost_usd",
            f"> {cost.monthly_cost_usd:g} USD/month",
            _above(cost.monthly_cost_usd),
        )
    if cost.execution_time_minutes is not None:
        limit = cost.execution_time_minutes
        add(Engine.SQLMESH, f"{key}.execution_time_minutes", f"> {limit:g} minutes", _above(limit))
    complexity, key = sm.complexity_indicators, "sqlmesh_conditions.complexity_indicators"
    if complexity.python_required:
        add(Engine.SQLMESH, f"{key}.python_required", "a Python model", _is_true)
    if complexity.complex_window_functions:
        add(Engine.SQLMESH, f"{key}.complex_window_functions", "a framed window or 2+ window functions", _is_true)
    if complexity.ml_model_integration:
        add(Engine.SQLMESH, f"{key}.ml_model_integration", "imports an ML package", _is_true)
    if complexity.complexity_score is not None:
        score = complexity.complexity_score
        add(Engine.SQLMESH, f"{key}.complexity_score", f"complexity score > {score}", _above(score))
    reliability, key = sm.reliability_requirements, "sqlmesh_conditions.reliability_requirements"
    if reliability.zero_downtime_deployment:
        add(Engine.SQLMESH, f"{key}.zero_downtime_deployment", "zero-downtime deployment required", _is_true)
    if reliability.sla_availability is not None:
        op, percent = parse_availability_threshold(reliability.sla_availability)
        fires = _above(percent) if op == ">" else (lambda v: v >= percent)
        add(Engine.SQLMESH, f"{key}.sla_availability", f"contract availability {op} {percent:g}%", fires)
    if dbt.monthly_cost_usd_below is not None:
        below = dbt.monthly_cost_usd_below
        add(
            Engine.DBT,
            "dbt_conditions.monthly_cost_usd_below",
            f"< {below:g} USD/month",
            lambda v: v < below,
            "monthly_cost_usd",
        )
    if dbt.simple_transformations:
        simple = f"complexity score <= {SIMPLE_SCORE}"
        add(
            Engine.DBT, "dbt_conditions.simple_transformations", simple, lambda v: v <= SIMPLE_SCORE, "complexity_score"
        )
    if dbt.rapid_iteration_needed:
        add(Engine.DBT, "dbt_conditions.rapid_iteration_needed", "changed often", _is_true)
    if dbt.existing_dbt_model:
        add(Engine.DBT, "dbt_conditions.existing_dbt_model", "already a dbt model", _is_true)
    if dbt.bi_tool_dependency:
        add(Engine.DBT, "dbt_conditions.bi_tool_dependency", "read by a BI tool (dbt exposure)", _is_true)
    return rules


@dataclass(frozen=True)
class FiredRule:
    rule: Rule
    feature: Feature

    def describe(self) -> str:
        """`complexity_score [complexity score > 7] (9: sqlglot on the compiled dbt SQL: ...)`."""
        return f"{self.rule.name} [{self.rule.condition}] ({_value(self.feature.value)}: {self.feature.source})"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "engine": self.rule.engine.value,
            "key": f"engine_selection.{self.rule.key}",
            "condition": self.rule.condition,
            "value": self.feature.value,
            "source": self.feature.source,
        }


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class OverrideMatch:
    engine: Engine
    glob: str
    reason: str

    @property
    def key(self) -> str:
        return f"override_rules.force_{self.engine.value}"

    def to_json(self) -> dict[str, str]:
        return {
            "engine": self.engine.value,
            "glob": self.glob,
            "reason": self.reason,
            "key": f"engine_selection.{self.key}",
        }


@dataclass(frozen=True)
class ModelSelection:
    """One model's decision."""

    model: ModelFacts
    recommended: Engine
    decided_by: str  # an override (force_sqlmesh / force_dbt), a rule name, or default_engine
    fired: tuple[FiredRule, ...]
    override: OverrideMatch | None
    features: ModelFeatures

    @property
    def current(self) -> Engine:
        return self.model.engine

    @property
    def mismatch(self) -> bool:
        return self.current is not self.recommended

    def why(self) -> str:
        if self.override is not None:
            return f"{self.override.key} ('{self.override.glob}'): {self.override.reason}"
        deciding = [f.describe() for f in self.fired if f.rule.engine is self.recommended]
        if deciding:
            return "; ".join(deciding)
        return f"no rule fired, default_engine is {self.recommended.value}"

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.node_id,
            "file": str(self.model.path) if self.model.path else None,
            "current": self.current.value,
            "recommended": self.recommended.value,
            "decided_by": self.decided_by,
            "mismatch": self.mismatch,
            "override": self.override.to_json() if self.override else None,
            "fired": [f.to_json() for f in self.fired],
            "features": self.features.to_json(),
        }


@dataclass
class SelectionReport:
    project: str
    environment: str
    file: Path
    spec: EngineSelection
    history: str  # where the run history came from, or why it did not
    git: str  # where commit counts came from, or why they did not
    models: list[ModelSelection] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def mismatches(self) -> list[ModelSelection]:
        return [m for m in self.models if m.mismatch]

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "environment": self.environment,
            "file": str(self.file),
            "default_engine": self.spec.default_engine,
            "mismatch_severity": self.spec.mismatch,
            "sources": {"history": self.history, "git": self.git, **FEATURE_SOURCES},
            "models": [m.to_json() for m in self.models],
            "findings": [f.to_json() for f in self.findings],
            "summary": {
                "models": len(self.models),
                "mismatches": len(self.mismatches),
                "errors": sum(1 for f in self.findings if f.severity == "error"),
                "warnings": sum(1 for f in self.findings if f.severity == "warning"),
            },
        }


FEATURE_SOURCES = {
    "sql": "complexity score and window functions: sqlglot on the rendered SQLMesh query / compiled dbt SQL (docs/engine-selection.md)",
    "python": "python_required, ml_model_integration: the model's language and the imports of its file",
    "contracts": "sla_availability: sla.availability of the contracts the model produces",
    "exposures": "bi_tool_dependency: dbt exposures in the dbt manifest",
}


def decide(model: ModelFacts, features: ModelFeatures, spec: EngineSelection, rules: Sequence[Rule]) -> ModelSelection:
    """One model's recommendation (see the module docstring)."""
    fired = []
    for rule in rules:
        feature = features.get(rule.feature)
        if feature.value is not None and rule.fires(feature.value):
            fired.append(FiredRule(rule, feature))
    override = _override(model, spec)
    if override is not None:
        recommended, decided_by = override.engine, f"force_{override.engine.value}"
    else:
        if fired:  # in `active_rules` order: any SQLMesh condition before any dbt one
            recommended, decided_by = fired[0].rule.engine, fired[0].rule.name
        else:
            recommended, decided_by = Engine(spec.default_engine), "default_engine"
    return ModelSelection(model, recommended, decided_by, tuple(fired), override, features)


def _override(model: ModelFacts, spec: EngineSelection) -> OverrideMatch | None:
    rules = spec.override_rules
    for engine, override in ((Engine.SQLMESH, rules.force_sqlmesh), (Engine.DBT, rules.force_dbt)):
        if override is None:
            continue
        glob = next((g for g in override.models if matching_models([model], g)), None)
        if glob is not None:
            return OverrideMatch(engine, glob, override.reason)
    return None


def _check_globs(facts: ProjectFacts, spec: EngineSelection, file: Path) -> list[Finding]:
    """Both force lists naming one model is an error (raised); a glob naming no model, a warning."""
    models = list(facts)
    rules = spec.override_rules
    conflicts = []
    if rules.force_sqlmesh is not None and rules.force_dbt is not None:
        for model in models:
            sm = next((g for g in rules.force_sqlmesh.models if matching_models([model], g)), None)
            db = next((g for g in rules.force_dbt.models if matching_models([model], g)), None)
            if sm is not None and db is not None:
                conflicts.append(
                    ConfigIssue(
                        file,
                        "engine_selection.override_rules",
                        f"{model.node_id} is named by force_sqlmesh ('{sm}') and by force_dbt ('{db}')",
                        "name it in the list of the engine it must run on only (narrow the other glob)",
                    )
                )
    if conflicts:
        raise DualEngineConfigError(conflicts)
    warnings = []
    lists = [(f"override_rules.{name}", getattr(rules, name)) for name in ("force_sqlmesh", "force_dbt")]
    lists += [(f"declared[{i}]", entry) for i, entry in enumerate(spec.declared)]
    for key, entry in lists:
        if entry is None:
            continue
        for index, glob in enumerate(entry.models):
            if not matching_models(models, glob):
                warnings.append(
                    Finding(
                        "warning",
                        f"engine_selection.{key.split('[')[0].split('.')[0]}",
                        "",
                        f"engine_selection.{key}.models[{index}]: '{glob}' names no model",
                        "fix the name (a glob matches `engine:name`, the full name or the table name) or remove it",
                        file,
                    )
                )
    return warnings


def mismatch_finding(selection: ModelSelection, severity: Severity, root: Path, file: Path) -> Finding:
    current, recommended = selection.current.value, selection.recommended.value
    if selection.override is not None:
        fix = f"move it to {recommended}, or take it out of {selection.override.key} ('{selection.override.glob}')"
    else:
        fix = f"move it to {recommended}, or add it to override_rules.force_{current} with a reason"
    return Finding(
        severity,
        f"engine_selection.{selection.decided_by}",
        selection.model.node_id,
        f"runs on {current}, the selection rules recommend {recommended}: {selection.why()}",
        fix,
        root / selection.model.path if selection.model.path else file,
    )


def selection_report(
    project: Project,
    facts: ProjectFacts,
    spec: EngineSelectionSpec,
    environment: str | None = None,
    use_history: bool = True,
    *,
    history: RunHistory | None = None,
    commits: CommitCounts | None = None,
    now: datetime | None = None,
) -> SelectionReport:
    """Every model's features and recommendation, and the findings (override/declared globs
    naming nothing, mismatches). `history`/`commits` replace what is read otherwise (tests).
    Raises DualEngineConfigError for a model both force lists name."""
    file = engine_selection_file(project)
    rules_spec = spec.engine_selection
    env = project.environment(environment).name
    warnings = _check_globs(facts, rules_spec, file)
    if history is None:
        history = read_run_history(project, env, use_history=use_history, now=now)
    order = {engine: n for n, engine in enumerate(Engine)}  # SQLMesh first, as the seed lists them
    models = sorted(facts, key=lambda m: (order[m.engine], m.name))
    if commits is None:
        commits = git_commit_counts(project.root, [m.path for m in models if m.path])
    rules = active_rules(rules_spec)
    selections = []
    for model in models:
        features = model_features(model, history, commits, rules_spec.declared, file.name)
        selections.append(decide(model, features, rules_spec, rules))
    mismatches = [mismatch_finding(s, rules_spec.mismatch, project.root, file) for s in selections if s.mismatch]
    return SelectionReport(
        project=project.settings.name,
        environment=env,
        file=file,
        spec=rules_spec,
        history=(
            f"run history of {env}: {history.unavailable}" + (f": {history.reason}" if history.reason else "")
            if history.unavailable
            else f"run history of {env}, last {HISTORY_DAYS} days ({len(history.rows)} rows), priced by config/monitoring.yml"
        ),
        git=(
            f"git: {commits.unavailable}"
            if commits.unavailable
            else f"git log of the model files, last {HISTORY_DAYS} days"
        ),
        models=selections,
        findings=warnings + mismatches,
    )


REPRODUCIBLE = (
    "not read by validate and lint, whose answers depend only on the repository (measured: dualengine engines)"
)


def selection_findings(project: Project, facts: ProjectFacts, environment: str | None = None) -> list[Finding]:
    """What `dualengine validate` and `dualengine lint` report: [] without
    config/engine_selection_rules.yml, else the findings (mismatches at the file's
    `mismatch` severity, glob warnings) from the repository alone: no run history, no git
    log. A gate in CI must give the same answer on every machine and clone depth; the
    measured features are `dualengine engines`'. Raises DualEngineConfigError for a broken file."""
    spec = load_engine_selection(project)
    if spec is None:
        return []
    unread = CommitCounts(unavailable=REPRODUCIBLE)
    return selection_report(project, facts, spec, environment, use_history=False, commits=unread).findings
