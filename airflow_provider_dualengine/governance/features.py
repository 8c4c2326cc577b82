"""What engine selection knows about each model, every value with where it came from.

Each feature is a `Feature(value, source)`; `value` None means unknown (a rule on it does
not fire, and the report says why). Sources, in the order they are tried:

- python_required: the model is a SQLMesh Python model or a dbt Python model (facts).
- complex_window_functions, complexity_score: the sqlglot tree of the rendered/compiled
  query (governance/complexity.py defines both); None for a model without SQL.
- ml_model_integration: a Python model importing one of ML_PACKAGES.
- monthly_cost_usd: the run history of the environment (`dualengine.run_history`): the
  cost of the model's executions of the last HISTORY_DAYS days, priced by the cost model
  (monitoring/cost.py with config/monitoring.yml); else `declared:`; else unknown.
- execution_time_minutes: the median duration of its last RECENT_RUNS successful runs
  (at least MIN_RUNS, as `dualengine plan` estimates); else `declared:`; else unknown.
- zero_downtime_deployment: `declared: zero_downtime_required` (nothing measures it).
- sla_availability: the highest `sla.availability` of the contracts the model produces.
- bi_tool_dependency: dbt exposures on the model (dbt manifest).
- rapid_iteration_needed: git commits touching the model's file in the last
  HISTORY_DAYS days (RAPID_COMMITS or more = rapid); else `declared:`; else unknown.
- existing_dbt_model: the model is in the dbt project (dbt manifest).

`model_features` is a pure function of the facts, the history rows and the commit counts,
so a test can check every value by hand; `read_run_history` and `git_commit_counts`
gather those and never raise (an unreadable warehouse or a folder outside git is a
reason in the source, not an error).
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.monitoring import CostSettings
from airflow_provider_dualengine.governance.complexity import UnparsableSql, measure
from airflow_provider_dualengine.governance.facts import ModelFacts, matching_models

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.engine_selection import Declared
    from airflow_provider_dualengine.config.project import Project

HISTORY_DAYS = 30  # the "monthly" cost window, and how far back commits are counted
RAPID_COMMITS = 5  # commits to a model's file within HISTORY_DAYS that make it "rapid iteration"
GIT_TIMEOUT_S = 30
# Top-level packages whose import makes a Python model "ML model integration".
ML_PACKAGES = frozenset(
    {
        "sklearn",
        "xgboost",
        "lightgbm",
        "catboost",
        "torch",
        "tensorflow",
        "keras",
        "statsmodels",
        "prophet",
        "mlflow",
        "transformers",
        "onnxruntime",
        "pycaret",
        "h2o",
    }
)
FEATURES = (
    "python_required",
    "complex_window_functions",
    "complexity_score",
    "ml_model_integration",
    "monthly_cost_usd",
    "execution_time_minutes",
    "zero_downtime_deployment",
    "sla_availability",
    "bi_tool_dependency",
    "rapid_iteration_needed",
    "existing_dbt_model",
)


@dataclass(frozen=True)
class Feature:
    value: bool | int | float | None  # None: unknown
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source}


@dataclass(frozen=True)
class ModelFeatures:
    python_required: Feature
    complex_window_functions: Feature
    complexity_score: Feature
    ml_model_integration: Feature
    monthly_cost_usd: Feature
    execution_time_minutes: Feature
    zero_downtime_deployment: Feature
    sla_availability: Feature
    bi_tool_dependency: Feature
    rapid_iteration_needed: Feature
    existing_dbt_model: Feature

    def get(self, name: str) -> Feature:
        feature: Feature = getattr(self, name)
        return feature

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: self.get(name).to_json() for name in FEATURES}


@dataclass(frozen=True)
class RunHistory:
    """The environment's run history rows (oldest first), or why there are none."""

    environment: str
    rows: Sequence[Mapping[str, Any]] = ()
    cost: CostSettings = field(default_factory=CostSettings)
    since: datetime | None = None
    unavailable: str | None = None  # short, for each feature: "unreadable" / "not read (--no-history)"
    reason: str | None = None  # why, in full (the driver's words, redacted), for the report's footer

    @cached_property
    def by_model(self) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
        """(engine, model) -> its execution rows in this environment, oldest first."""
        found: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
        for row in self.rows:
            if row.get("kind", "model") == "model" and row.get("environment") == self.environment:
                found.setdefault((row["engine"], row["model"]), []).append(row)
        return found


@dataclass(frozen=True)
class CommitCounts:
    """Commits per model file (project-relative path) in the last HISTORY_DAYS days, or why unknown."""

    counts: Mapping[str, int] = field(default_factory=dict)
    unavailable: str | None = None  # "not a git repository", "git is not installed", ...


def read_run_history(
    project: Project, environment: str, *, use_history: bool = True, now: datetime | None = None
) -> RunHistory:
    """The last HISTORY_DAYS days of the environment's history through the project's warehouse
    connection (read-only, as `dualengine plan`), priced by the project's cost model. Never raises."""
    from airflow_provider_dualengine.config.monitoring import load_monitoring

    cost = load_monitoring(project).cost  # a broken monitoring.yml is a config error, as everywhere
    if not use_history:
        return RunHistory(environment, cost=cost, unavailable="not read (--no-history)")
    from airflow_provider_dualengine.monitoring.metrics import read_history
    from airflow_provider_dualengine.resources.plan import unreadable_reason

    since = (now or datetime.now(UTC)) - timedelta(days=HISTORY_DAYS)
    try:
        rows, _ = read_history(project.settings.warehouse.conn_id, since, environment)
    except Exception as exc:  # noqa: BLE001 - an unreadable history makes features unknown, never an error
        return RunHistory(environment, cost=cost, since=since, unavailable="unreadable", reason=unreadable_reason(exc))
    return RunHistory(environment, rows=rows, cost=cost, since=since)


def git_commit_counts(root: Path, paths: Iterable[Path], days: int = HISTORY_DAYS) -> CommitCounts:
    """Commits touching each path (relative to `root`) in the last `days` days, from one
    `git log` run in `root`. Never raises: no git, or not a repository, is the reason."""
    wanted = sorted({str(p) for p in paths})
    if not wanted:
        return CommitCounts()
    command = [
        "git",
        "-c",
        "core.quotepath=off",
        "log",
        f"--since={days}.days",
        "--format=%x00%H",
        "--name-only",
        "--relative",
        "--",
        *wanted,
    ]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except FileNotFoundError:
        return CommitCounts(unavailable="git is not installed")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return CommitCounts(unavailable=f"git log failed: {exc}")
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        return CommitCounts(unavailable=reason.removeprefix("fatal: "))
    counts = dict.fromkeys(wanted, 0)
    for line in done.stdout.splitlines():
        if line and not line.startswith("\0") and line in counts:
            counts[line] += 1
    return CommitCounts(counts)


def model_features(
    model: ModelFacts,
    history: RunHistory,
    commits: CommitCounts,
    declared: Sequence[Declared] = (),
    declared_file: str = "engine_selection_rules.yml",
) -> ModelFeatures:
    """Every feature of one model (see the module docstring for each source)."""
    values = _declared(model, declared, declared_file)
    sql, windows = _sql_features(model)
    cost, minutes = _history_features(model, history, values)
    return ModelFeatures(
        python_required=_python(model),
        complex_window_functions=windows,
        complexity_score=sql,
        ml_model_integration=_ml(model),
        monthly_cost_usd=cost,
        execution_time_minutes=minutes,
        zero_downtime_deployment=values.get(
            "zero_downtime_required",
            Feature(False, f"not declared (zero_downtime_required under declared: in {declared_file})"),
        ),
        sla_availability=_availability(model),
        bi_tool_dependency=_exposures(model),
        rapid_iteration_needed=_rapid(model, commits, values),
        existing_dbt_model=(
            Feature(True, "dbt manifest: a model of the dbt project")
            if model.engine is Engine.DBT
            else Feature(False, "SQLMesh model (not in the dbt project)")
        ),
    )


def _where(model: ModelFacts) -> str:
    return f" ({model.path})" if model.path else ""


def _python(model: ModelFacts) -> Feature:
    if model.engine is Engine.SQLMESH:
        what = "python" if model.python else (model.kind or "SQL")
        return Feature(model.python, f"SQLMesh model kind: {what}{_where(model)}")
    return Feature(model.python, f"dbt model language: {'python' if model.python else 'sql'}{_where(model)}")


def _sql_features(model: ModelFacts) -> tuple[Feature, Feature]:
    """(complexity_score, complex_window_functions) from the query's syntax tree."""
    what = "rendered SQLMesh query" if model.engine is Engine.SQLMESH else "compiled dbt SQL"
    if model.query is None or not model.query.strip():
        why = "Python model: no SQL" if model.python else f"no SQL query ({model.kind or 'no kind'})"
        return Feature(None, why), Feature(None, why)
    try:
        counts = measure(model.query, model.dialect)
    except UnparsableSql as exc:
        why = f"sqlglot could not parse the {what} ({model.dialect}): {exc}"
        return Feature(None, why), Feature(None, why)
    return (
        Feature(counts.score, f"sqlglot on the {what}: {counts.explain()}"),
        Feature(counts.complex_windows, f"sqlglot on the {what}: {counts.explain_windows()}"),
    )


def _ml(model: ModelFacts) -> Feature:
    if not model.python:
        return Feature(False, "not a Python model")
    found = sorted(set(model.imports) & ML_PACKAGES)
    if found:
        return Feature(True, f"Python model imports {', '.join(found)}")
    shown = ", ".join(i for i in model.imports if i != "__future__") or "nothing"
    return Feature(False, f"Python model imports {shown} (no ML package)")


def _availability(model: ModelFacts) -> Feature:
    best: tuple[float, str] | None = None
    for contract in model.contracts:
        text = contract.model.sla.availability if contract.model.sla else None
        if text:
            percent = float(text.strip().rstrip("%").strip())
            if best is None or percent > best[0]:
                best = (percent, f"contract {contract.file.name}: sla.availability {text.strip()}")
    if best is None:
        named = ", ".join(c.file.name for c in model.contracts)
        return Feature(None, f"contract {named} has no sla.availability" if named else "produces no contract")
    return Feature(best[0], best[1])


def _exposures(model: ModelFacts) -> Feature:
    if not model.exposures:
        return Feature(False, "no dbt exposure reads it")
    names = ", ".join(f"{e.name} ({e.type})" for e in model.exposures)
    return Feature(True, f"dbt exposures: {names}")


def _declared(model: ModelFacts, declared: Sequence[Declared], file: str) -> dict[str, Feature]:
    """Declared values for the model: per key, the first `declared:` entry naming it that gives it."""
    found: dict[str, Feature] = {}
    for index, entry in enumerate(declared):
        glob = next((g for g in entry.models if matching_models([model], g)), None)
        if glob is None:
            continue
        for key in ("monthly_cost_usd", "execution_time_minutes", "zero_downtime_required", "rapid_iteration_needed"):
            value = getattr(entry, key)
            if value is not None and key not in found:
                found[key] = Feature(value, f"declared in {file} (declared[{index}], '{glob}')")
    return found


def _history_features(
    model: ModelFacts, history: RunHistory, declared: Mapping[str, Feature]
) -> tuple[Feature, Feature]:
    """(monthly_cost_usd, execution_time_minutes): measured, else declared, else unknown."""
    rows = history.by_model.get((model.engine.value, model.name), []) if history.unavailable is None else []
    cost_why, minutes_why = _cost(rows, history), _minutes(rows, history)
    cost = cost_why if isinstance(cost_why, Feature) else declared.get("monthly_cost_usd")
    minutes = minutes_why if isinstance(minutes_why, Feature) else declared.get("execution_time_minutes")
    return (
        cost or Feature(None, f"unknown: {cost_why} and nothing declared"),
        minutes or Feature(None, f"unknown: {minutes_why} and nothing declared"),
    )


def _cost(rows: Sequence[Mapping[str, Any]], history: RunHistory) -> Feature | str:
    """The priced cost of the model's executions in the window, or why there is none."""
    from airflow_provider_dualengine.monitoring.cost import execution_cost, is_execution

    if history.unavailable is not None:
        return f"run history {history.unavailable}"
    runs = [r for r in rows if is_execution(r)]
    if not runs:
        return f"no execution recorded in {history.environment} in the last {HISTORY_DAYS} days"
    if history.cost.currency != "USD":
        return f"the cost model prices in {history.cost.currency}, the rule is in USD"
    prices = [execution_cost(r, history.cost) for r in runs]
    priced = [p for p in prices if p is not None]
    if not priced:
        return f"{len(runs)} executions but no price (config/monitoring.yml has no price for them)"
    unpriced = f", {len(runs) - len(priced)} unpriced" if len(priced) < len(runs) else ""
    return Feature(
        round(sum(priced), 6),
        f"history: {len(priced)} executions in {history.environment} in the last {HISTORY_DAYS} days{unpriced}, priced by the cost model",
    )


def _minutes(rows: Sequence[Mapping[str, Any]], history: RunHistory) -> Feature | str:
    from airflow_provider_dualengine.resources.plan import MIN_RUNS, RECENT_RUNS

    if history.unavailable is not None:
        return f"run history {history.unavailable}"
    done = [r["duration_s"] for r in rows if r.get("status") == "success" and r.get("duration_s") is not None]
    if len(done) < MIN_RUNS:
        return f"no history in {history.environment} ({len(done)} successful runs, {MIN_RUNS} needed)"
    recent = done[-RECENT_RUNS:]
    return Feature(
        round(statistics.median(recent) / 60, 3),
        f"history: median of the last {len(recent)} successful runs in {history.environment}",
    )


def _rapid(model: ModelFacts, commits: CommitCounts, declared: Mapping[str, Feature]) -> Feature:
    path = str(model.path) if model.path else None
    if commits.unavailable is None and path is not None and path in commits.counts:
        n = commits.counts[path]
        return Feature(
            n >= RAPID_COMMITS,
            f"git: {n} commit{'' if n == 1 else 's'} to {path} in the last {HISTORY_DAYS} days ({RAPID_COMMITS} = rapid)",
        )
    why = f"git: {commits.unavailable}" if commits.unavailable else "no file to look up in git"
    return declared.get("rapid_iteration_needed") or Feature(None, f"unknown: {why} and nothing declared")
