"""Where a model's output lives in an environment: the one rule both engines' names follow.

SQLMesh exposes a model as a view in `<schema>` (prod) or `<schema>__<environment>`
(`environment_suffix_target: schema`, SQLMesh's default, checked against SQLMesh's own
naming in the tests); a dbt model is a table in the environment's target schema.
"""

from __future__ import annotations

from airflow_provider_dualengine.config.environments import sqlmesh_view_suffix
from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment
from airflow_provider_dualengine.graph import Engine


def model_relation(
    project: Project,
    engine: Engine,
    name: str,
    relation: str | None,
    environment: str | ResolvedEnvironment | None = None,
) -> tuple[str, str]:
    """(schema, table) of a model's output in an environment: SQLMesh's environment view
    or the dbt model's table in the environment's target schema (`relation` is the dbt
    model's own relation name when it differs from the model name)."""
    env = environment if isinstance(environment, ResolvedEnvironment) else project.environment(environment)
    if engine is Engine.SQLMESH:
        return sqlmesh_view(name, env.sqlmesh_environment)
    return env.dbt_schema, dbt_table(name, relation)


def sqlmesh_view(model: str, sqlmesh_environment: str) -> tuple[str, str]:
    """(schema, view) through which SQLMesh exposes `model` in `sqlmesh_environment`."""
    schema, table = model.split(".")[-2:]
    return f"{schema}{sqlmesh_view_suffix(sqlmesh_environment)}", table


def dbt_table(name: str, relation: str | None) -> str:
    """The table a dbt model builds (its alias or relation name, else the model name)."""
    return (relation or name).split(".")[-1]
