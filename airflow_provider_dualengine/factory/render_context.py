"""What every engine renderer needs to know, resolved once per DAG."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from airflow_provider_dualengine.config.project import Project, ResolvedEnvironment
from airflow_provider_dualengine.factory.config import DbtExecution, SQLMeshAction

__all__ = ["DbtExecution", "RenderContext", "RenderedModels"]


@dataclass(frozen=True)
class RenderContext:
    project: Project
    environment: ResolvedEnvironment
    sqlmesh_action: SQLMeshAction = SQLMeshAction.PLAN
    sqlmesh_model_tasks: bool = True  # one reporting task per SQLMesh model
    dbt_model_tasks: bool = True  # one reporting task per dbt model (DbtExecution.STAGE)
    split_sqlmesh_branches: bool = False  # one engine run per independent branch of a stage
    sqlmesh_operator_args: dict[str, Any] = field(default_factory=dict)  # passed to each SQLMesh executor
    dbt_execution: DbtExecution = DbtExecution.STAGE
    models_graph: Any = None  # graph.lineage.ModelGraph: what each model reads (lineage of dbt model tasks)
    # The warehouse connection as seen while parsing: names the models' Assets. None: the
    # DAG emits no model Assets (a deployment's green relations are nobody's input).
    warehouse: Any = None
    # Warehouse writers wait while a deployment of this environment runs; not the deploy
    # DAG's own (operators/deployment_gate.py).
    waits_for_deployments: bool = True
    run_history: bool = False  # engine and contract tasks append to dualengine.run_history
    resources: Any = None  # config.resources.ResourcesSpec: engine pools, windows (None: no resources.yml)

    def engine_allocation(self, engine: str) -> Any:
        """The engine's allocation in this environment (resources/allocation.py), or None
        without a resources.yml. Pool names do not depend on the moment; slots do."""
        if self.resources is None:
            return None
        import pendulum

        from airflow_provider_dualengine.resources.allocation import allocations

        return allocations(self.project, self.environment.name, pendulum.now("UTC"), self.resources)[engine]

    def window_can_hold(self, engine: str) -> bool:
        """Whether some execution window makes `engine` maintenance_only (it then gets a gate)."""
        schedule = self.resources.execution_schedule if self.resources is not None else None
        return schedule is not None and any(w.rules.execution(engine) == "maintenance_only" for w in schedule.windows())

    def asset_alias(self, engine: str, model: str) -> str | None:
        """Stable alias a task attaches a table's Asset to at run time (None when this DAG
        emits no Assets)."""
        if self.warehouse is None:
            return None
        return f"dualengine/{self.project.settings.name}/{self.environment.name}/{engine}/{model}"

    def asset_uri(self, engine: str, model: str, relation: str | None = None) -> str | None:
        """The Asset URI of a model's output in this environment, when it is known at parse
        time (tasks then declare it as an outlet, and Airflow lists them as its producers)."""
        from airflow_provider_dualengine.factory.model_assets import model_asset_uri
        from airflow_provider_dualengine.graph import Engine

        if self.warehouse is None:
            return None
        return model_asset_uri(self.warehouse, self.project, Engine(engine), model, relation, self.environment)

    def lineage_inputs(self, engine: Any, model: str) -> list[str]:
        """`schema.table` of every model `model` reads, as named in this environment."""
        from airflow_provider_dualengine.graph.relations import model_relation

        graph = self.models_graph
        return [
            ".".join(model_relation(self.project, up[0], up[1], graph.relation_of(up), self.environment))
            for up in self._upstream.get((engine, model), ())
        ]

    @cached_property
    def _upstream(self) -> dict[Any, list[Any]]:
        """Each model's direct upstream models, indexed once per DAG (not an edge scan per model)."""
        upstream: dict[Any, list[Any]] = {}
        for edge in self.models_graph.edges if self.models_graph is not None else ():
            upstream.setdefault(edge.downstream, []).append(edge.upstream)
        return upstream

    def input_files(self, model: Any) -> list[str]:
        """Absolute paths of the files a model (graph.ModelNode) loads: a SQLMesh seed's CSV."""
        from pathlib import Path

        from airflow_provider_dualengine.graph import Engine

        base = self.project.sqlmesh_path if model.engine is Engine.SQLMESH else self.project.dbt_path
        return [str((Path(base) / f).resolve()) for f in model.reads_files]

    def model_inlets(self, model: Any) -> list[Any]:
        """The Assets a model's task reads: its upstream models' tables in this environment
        (the URIs their producing tasks declare as outlets, in either engine) and its files,
        so Airflow's Asset graph links producer and consumer tasks across engines."""
        from airflow.sdk import Asset

        from airflow_provider_dualengine.engines.connections import file_asset_uri, table_asset_uri

        if self.warehouse is None:
            return []
        tables = [
            table_asset_uri(self.warehouse, *r.split(".", 1)) for r in self.lineage_inputs(model.engine, model.name)
        ]
        files = [file_asset_uri(f) for f in self.input_files(model)]
        return [Asset(uri) for uri in dict.fromkeys([*tables, *files])]

    def declare_model_outlets(self, engine: Any, models: Any, builders: dict[str, Any]) -> None:
        """Without per-model tasks, the task that builds each model declares its Asset (Airflow
        emits it when that task succeeds) and what the model reads (inlets)."""
        from airflow.sdk import Asset

        for model in models:
            uri = self.asset_uri(engine.value, model.name, model.relation)
            builder = builders[model.name]
            if uri:
                builder.outlets = [*builder.outlets, Asset(uri)]
            builder.inlets = [*builder.inlets, *self.model_inlets(model)]
        for builder in {id(b): b for b in builders.values()}.values():  # a model it builds is no input
            builder.inlets = [a for a in dict.fromkeys(builder.inlets) if a not in builder.outlets]

    @property
    def conn_id(self) -> str:
        return self.project.settings.warehouse.conn_id

    @property
    def writer_pool(self) -> str | None:
        """One-slot pool for warehouses that allow one writer (DuckDB); None otherwise."""
        return self.project.settings.warehouse.writer_pool

    def deployment_gate_args(self) -> dict[str, Any]:
        return {"deployment_environment": self.environment.name} if self.waits_for_deployments else {}

    def history_args(self, engine: Any, models: Any = (), **extra: Any) -> dict[str, Any]:
        """`history=` for a task that runs `models` (graph.ModelNode) of `engine`: this
        environment's name and where each model lands here, for the row counts the engine
        does not report; {} when this DAG records no history."""
        from airflow_provider_dualengine.graph.relations import model_relation

        if not self.run_history:
            return {}
        relations = {
            m.name: ".".join(model_relation(self.project, engine, m.name, m.relation, self.environment)) for m in models
        }
        return {"history": {"environment": self.environment.name, "relations": relations, **extra}}

    def pool_args(self) -> dict[str, Any]:
        return {"pool": self.writer_pool} if self.writer_pool else {}


@dataclass
class RenderedModels:
    """What an engine renderer hands back: its group and, per model, the task (or task
    group) where the model's work starts and the one after which its output is ready."""

    group: Any
    entry: dict[str, Any] = field(default_factory=dict)
    done: dict[str, Any] = field(default_factory=dict)
