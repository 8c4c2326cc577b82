"""The sequential `dependency_graph` YAML: stages per engine plus external inputs."""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from airflow_provider_dualengine.config.names import Identifier, ModelName


class StageEngine(str, Enum):
    SQLMESH = "sqlmesh"
    DBT = "dbt"
    BOTH = "both"


class ExternalInput(BaseModel):
    """An upstream outside both engines (`source_data`: files or tables another system delivers).

    `paths` become a sensor that waits until every file has landed; `asset` is an
    Airflow Asset URI that the sensor declares as inlet and that the DAG can be
    scheduled on, so an ingestion DAG emitting it triggers the pipeline.
    """

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    paths: list[str] = Field(default_factory=list)
    asset: str | None = None
    poke_interval_seconds: int = Field(default=60, ge=1)
    timeout_seconds: int = Field(default=6 * 3600, ge=1)

    @model_validator(mode="after")
    def _needs_a_signal(self) -> ExternalInput:
        if not self.paths and not self.asset:
            raise ValueError("an external input needs `paths` (files to wait for) or `asset` (an Asset URI)")
        return self


class StageSpec(BaseModel):
    """One stage. `sqlmesh`/`dbt` stages list `models`; `both` lists one list per engine."""

    model_config = ConfigDict(extra="forbid")

    engine: StageEngine
    models: list[ModelName] = Field(default_factory=list)
    sqlmesh_models: list[ModelName] = Field(default_factory=list)
    dbt_models: list[ModelName] = Field(default_factory=list)
    depends_on: list[Identifier] = Field(default_factory=list)
    description: str = ""

    @model_validator(mode="after")
    def _models_match_engine(self) -> StageSpec:
        if self.engine is StageEngine.BOTH:
            if self.models:
                raise ValueError("a `both` stage lists `sqlmesh_models` and `dbt_models`, not `models`")
            if not self.sqlmesh_models or not self.dbt_models:
                raise ValueError("a `both` stage needs non-empty `sqlmesh_models` and `dbt_models`")
        else:
            if self.sqlmesh_models or self.dbt_models:
                raise ValueError(f"a `{self.engine.value}` stage lists its models under `models`")
            if not self.models:
                raise ValueError(f"a `{self.engine.value}` stage needs a non-empty `models` list")
        return self

    def models_for(self, engine: str) -> list[str]:
        """Models this stage runs on `engine` ('sqlmesh' or 'dbt')."""
        if self.engine is StageEngine.BOTH:
            return list(self.sqlmesh_models if engine == "sqlmesh" else self.dbt_models)
        return list(self.models) if self.engine.value == engine else []


class DependencyGraphSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_inputs: dict[Identifier, ExternalInput] = Field(default_factory=dict)
    dependency_graph: dict[Identifier, StageSpec] = Field(min_length=1)
