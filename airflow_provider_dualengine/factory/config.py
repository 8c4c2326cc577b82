"""The knobs of the DAG factories, grouped by concern as Cosmos groups its own.

    build_dag("transforms")                                   # the common case
    build_dag(
        ProjectConfig("transforms", environment="dev"),
        render_config=RenderConfig(model_level_dependencies=True),
        execution_config=ExecutionConfig(sqlmesh_action=SQLMeshAction.RUN),
    )

`ProjectConfig` says which project, environment and stages; `RenderConfig` how the
graph becomes tasks; `ExecutionConfig` what the SQLMesh tasks do when they run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

ProjectDir = str | os.PathLike[str]


class SQLMeshAction(str, Enum):
    """What a SQLMesh stage task does."""

    PLAN = "plan"  # plan + apply code changes, then backfill missing intervals
    RUN = "run"  # only the cron intervals that are due


class DbtExecution(str, Enum):
    """How a stage's dbt models run."""

    STAGE = "stage"  # one `dbt build` per stage, one reporting task per model
    PER_MODEL = "per_model"  # Cosmos' DbtTaskGroup: dbt run + test tasks per model


@dataclass(frozen=True)
class ProjectConfig:
    """Which project, in which environment, and which of its stages a DAG renders.

    :param project_dir: folder holding `dualengine.yml` (default: $DUALENGINE_PROJECT_DIR).
    :param environment: a name from `dual_engine_environments.yml` (default: the project's).
    :param stages: render only these stages (default: all). The others run in another DAG;
        schedule this one on their models' Assets (`model_assets(...)`) instead of stage order.
    :param compile_if_stale: run `dualengine compile` during parsing when the artifact is missing
        or stale (slow: seconds per parse while it happens); default off, compile at deploy time.
    """

    project_dir: ProjectDir | None = None
    environment: str | None = None
    stages: Sequence[str] | None = None
    compile_if_stale: bool = False

    @classmethod
    def of(cls, project: ProjectConfig | ProjectDir | None) -> ProjectConfig:
        """A ProjectConfig from what a factory was given: one, or just the project folder."""
        return project if isinstance(project, ProjectConfig) else cls(project_dir=project)


@dataclass(frozen=True)
class RenderConfig:
    """How the unified graph becomes Airflow tasks.

    :param sqlmesh_model_tasks: one Airflow task per SQLMesh model (default); False renders one
        task per SQLMesh stage, for very large projects where per-model tasks cost more than they show.
    :param dbt_model_tasks: one Airflow task per dbt model (default); False renders only the
        stage's `dbt build` task, which then fails when a model or its tests fail.
    :param model_level_dependencies: wait for the models actually read (across engines) instead of
        the whole previous stage, so independent branches overlap. Stages listed in `depends_on`
        that share no model edge keep their stage-level edge. With `SQLMeshAction.RUN`, each
        independent branch of a SQLMesh stage also gets its own engine run.
    :param schedule_on_inputs: schedule on the external inputs' Assets instead of `schedule`.
    :param dbt_execution: `DbtExecution.STAGE` (default): one `dbt build` per stage and a
        reporting task per model (a retry of a model's task rebuilds that model alone);
        `DbtExecution.PER_MODEL`: Cosmos' DbtTaskGroup, dbt run and test tasks per model
        (dbt starts and parses in every task: seconds per model).
    :param run_history: the engine tasks append what each engine reported per model, and the
        contract checks their results, to the warehouse's `dualengine.run_history` (cost,
        metrics and the report read it; docs/monitoring.md). With `DbtExecution.PER_MODEL`,
        Cosmos' run tasks record their model after a successful dbt run (Cosmos calls no
        callback on failure).
    """

    sqlmesh_model_tasks: bool = True
    dbt_model_tasks: bool = True
    model_level_dependencies: bool = False
    schedule_on_inputs: bool = False
    dbt_execution: DbtExecution = DbtExecution.STAGE
    run_history: bool = True

    def __post_init__(self) -> None:
        _coerce_enum(self, "dbt_execution", DbtExecution)


@dataclass(frozen=True)
class ExecutionConfig:
    """What the SQLMesh tasks do when they run.

    :param sqlmesh_action: `SQLMeshAction.PLAN` (default) or `SQLMeshAction.RUN` (or their values).
    :param sqlmesh_operator_args: extra arguments for every SQLMesh plan/run task (e.g.
        ``{"execution_time": "{{ data_interval_end }}"}``, ``retries``), like Cosmos' operator_args.
    """

    sqlmesh_action: SQLMeshAction = SQLMeshAction.PLAN
    sqlmesh_operator_args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _coerce_enum(self, "sqlmesh_action", SQLMeshAction)


def _coerce_enum(config: Any, name: str, enum: type[Enum]) -> None:
    """Accept the enum's string values in a frozen config; a clear ValueError otherwise."""
    value = getattr(config, name)
    try:
        object.__setattr__(config, name, enum(value))
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}") from None


# Keyword arguments of earlier versions, and where each one lives now.
MOVED_ARGUMENTS = {
    "project_dir": "ProjectConfig(project_dir=...)",
    "environment": "ProjectConfig(environment=...)",
    "stages": "ProjectConfig(stages=...)",
    "compile_if_stale": "ProjectConfig(compile_if_stale=...)",
    "sqlmesh_model_tasks": "RenderConfig(sqlmesh_model_tasks=...)",
    "model_level_dependencies": "RenderConfig(model_level_dependencies=...)",
    "schedule_on_inputs": "RenderConfig(schedule_on_inputs=...)",
    "sqlmesh_action": "ExecutionConfig(sqlmesh_action=...)",
    "sqlmesh_operator_args": "ExecutionConfig(sqlmesh_operator_args=...)",
}


def reject_moved_arguments(factory: str, dag_kwargs: Mapping[str, Any]) -> None:
    """A TypeError naming the config object for a keyword argument that moved there
    (instead of Airflow's "DAG got an unexpected keyword argument")."""
    moved = [f"{name}= -> {MOVED_ARGUMENTS[name]}" for name in dag_kwargs if name in MOVED_ARGUMENTS]
    if moved:
        raise TypeError(f"{factory}(): these arguments live in config objects now: {'; '.join(moved)}")
