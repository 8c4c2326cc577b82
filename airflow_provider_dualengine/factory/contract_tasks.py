"""Where contracts sit in a DAG: one static check before anything runs, and a run-time
check between each contracted producer and its consumers.

The run-time check becomes the producer's "done" point, so every consumer (the next
stage, or with model-level scheduling the models that read the producer) waits for it,
and a violation leaves them upstream_failed.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.config.contracts import Contract
from airflow_provider_dualengine.factory.render_context import RenderContext
from airflow_provider_dualengine.graph import Engine, UnifiedGraph
from airflow_provider_dualengine.graph.relations import model_relation


def render_contract_check(
    contract: Contract, engine: Engine, model: str, graph: UnifiedGraph, ctx: RenderContext, producer_task: Any
) -> Any:
    from airflow_provider_dualengine.engines.sqlmesh.names import task_id_for
    from airflow_provider_dualengine.operators.contract_check import ContractCheckOperator

    relation = graph.models_graph.relation_of((engine, model))
    schema, table = model_relation(ctx.project, engine, model, relation, ctx.environment)
    return ContractCheckOperator(
        **_freshness_source(engine, model, relation, ctx, producer_task),
        task_id=f"contract__{task_id_for(model)}",
        task_display_name=f"contract: {model}",
        contract=contract.model.model_dump(mode="json"),
        schema=schema,
        table=table,
        conn_id=ctx.conn_id,
        asset_alias=ctx.asset_alias("contract", model),
        # DuckDB: even a reading process needs the file lock, so checks queue with the writers
        **ctx.pool_args(),
        history={"environment": ctx.environment.name, "engine": engine.value} if ctx.run_history else None,
        doc_md=f"Data contract `{contract.file.name}` (version {contract.version}) for {engine.value} model `{model}`, checked in `{schema}.{table}`.",
    )


def _freshness_source(
    engine: Engine, model: str, relation: str | None, ctx: RenderContext, producer_task: Any
) -> dict[str, Any]:
    """Where the check reads when the producer last wrote its table (a freshness SLA
    without a `freshness_column`): SQLMesh's state, the outcome of this run's dbt build
    (one build per stage), or the model's Asset events (Cosmos renders the model)."""
    from airflow_provider_dualengine.factory.config import DbtExecution

    if engine is Engine.SQLMESH:
        return {
            "sqlmesh_environment": ctx.environment.sqlmesh_environment,
            "project_path": str(ctx.project.sqlmesh_path),
            "gateway": ctx.environment.sqlmesh_gateway,
        }
    if ctx.dbt_execution is DbtExecution.STAGE:
        return {"dbt_outcome_task_id": producer_task.task_id}
    return {"producer_asset_uri": ctx.asset_uri(engine.value, model, relation)}


def render_static_validation(ctx: RenderContext) -> Any:
    from airflow_provider_dualengine.operators.contract_validation import ContractValidationOperator

    return ContractValidationOperator(
        task_id="validate_contracts",
        project_dir=str(ctx.project.root),
        doc_md="Contracts against the compiled projects (columns, types, consumers) before any model is built.",
    )
