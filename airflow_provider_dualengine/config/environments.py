"""`dual_engine_environments.yml`: one name -> SQLMesh environment + dbt target."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_dualengine.config.names import Identifier


class SQLMeshEnvironment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gateway: Identifier | None = None
    environment_suffix: str = Field(default="", pattern=r"^(_[A-Za-z0-9_]+)?$")
    virtual_environment: bool = True
    # Explicit SQLMesh environment name; by default derived from the suffix.
    environment: Identifier | None = None

    @property
    def name(self) -> str:
        """'_dev' -> 'dev'; no suffix -> 'prod' (SQLMesh's production environment)."""
        return self.environment or self.environment_suffix.lstrip("_") or "prod"

    @property
    def view_schema_suffix(self) -> str:
        return sqlmesh_view_suffix(self.name)


class DbtEnvironment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Identifier
    profiles_dir: str | None = None
    # Target schema; by default the project's dbt schema plus the SQLMesh suffix.
    schema_: Identifier | None = Field(default=None, alias="schema")


class EnvironmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sqlmesh: SQLMeshEnvironment = Field(default_factory=SQLMeshEnvironment)
    dbt: DbtEnvironment


class EnvironmentsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environments: dict[Identifier, EnvironmentSpec] = Field(min_length=1)


def sqlmesh_view_suffix(sqlmesh_environment: str) -> str:
    """Suffix SQLMesh gives environment view schemas: 'staging' -> 'staging__dev' (none in prod)."""
    return "" if sqlmesh_environment == "prod" else f"__{sqlmesh_environment}"
