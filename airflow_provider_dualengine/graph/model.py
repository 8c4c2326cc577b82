"""Plain data objects between the config layer and the Airflow layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_dualengine.config.dependency_graph import ExternalInput
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.lineage import ModelGraph

__all__ = ["Engine", "ModelNode", "StageNode", "UnifiedGraph"]


@dataclass(frozen=True, slots=True)
class ModelNode:
    engine: Engine
    name: str
    unique_id: str | None = None
    kind: str | None = None
    depends_on: tuple[str, ...] = ()  # same-engine upstream models (any stage)
    reads_tables: tuple[str, ...] = ()  # tables read outside the engine's models (prod names)
    # (name, type): declared types, else inferred from the compiled SQL ("" unknown)
    columns: tuple[tuple[str, str], ...] = ()
    relation: str | None = None  # where the engine writes it, when not derived from the name (dbt alias)
    reads_files: tuple[str, ...] = ()  # files it loads (seed CSVs), relative to its engine's project


@dataclass(frozen=True, slots=True)
class StageNode:
    name: str
    models: dict[Engine, tuple[ModelNode, ...]]
    upstream_stages: tuple[str, ...] = ()
    external_inputs: tuple[str, ...] = ()
    description: str = ""

    def engines(self) -> list[Engine]:
        return [engine for engine in Engine if self.models.get(engine)]


@dataclass
class UnifiedGraph:
    """Stages in a valid execution order, plus the inputs that come from outside."""

    stages: dict[str, StageNode] = field(default_factory=dict)
    external_inputs: dict[str, ExternalInput] = field(default_factory=dict)
    models_graph: ModelGraph = field(
        default_factory=ModelGraph
    )  # every model of both projects, with cross-engine edges

    def models(self, engine: Engine | None = None) -> list[ModelNode]:
        return [
            m for stage in self.stages.values() for e, ms in stage.models.items() if engine in (None, e) for m in ms
        ]

    def placement(self) -> dict[tuple[Engine, str], str]:
        """(engine, model) -> the stage that runs it."""
        return {(engine, m.name): s.name for s in self.stages.values() for engine, ms in s.models.items() for m in ms}
