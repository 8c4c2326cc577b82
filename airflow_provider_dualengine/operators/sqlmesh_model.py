"""One Airflow task per SQLMesh model, fed by its stage's single SQLMesh execution.

The stage's executor task (plan or run) runs the engine once and records every model's
outcome in XCom; each model task reads its own outcome, fails if the model failed (so
Airflow marks everything downstream upstream_failed), and emits the model's Asset. No
SQLMesh import, no Context: a model task costs what an XCom read costs. With the
OpenLineage provider installed it also reports the model's input and output datasets,
named as Cosmos names dbt's (engines/sqlmesh/openlineage.py).

A failed model fails its task without a retry: a retry would read the same outcome, since
only the stage's executor runs SQLMesh. Transient warehouse errors are retried there
(operators/sqlmesh.py): a model task sees one only once the executor's retries are spent,
or beside a model that failed on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.engines.connections import table_asset_uri
from airflow_provider_dualengine.engines.transient import is_transient
from airflow_provider_dualengine.links.view import ModelLineageLink


class SQLMeshModelFailed(RuntimeError, AirflowFailException):
    """The model failed or was skipped in the stage's SQLMesh execution. Never retried: the
    retry of a reporting task reads the same outcome (Clear the executor task instead)."""


class SQLMeshModelOperator(BaseOperator):
    custom_operator_name = "SQLMesh model"
    template_fields: Sequence[str] = ()
    operator_extra_links = (ModelLineageLink(),)
    dualengine_engine = "sqlmesh"
    ui_color = "#ede9fe"

    def __init__(
        self,
        *,
        model: str,
        executor_task_id: str,
        environment: str,
        view_schema_suffix: str = "",
        conn_id: str | None = None,
        asset_uri: str | None = None,
        asset_alias: str | None = None,
        lineage_inputs: list[str] | None = None,
        lineage_external_inputs: list[str] | None = None,
        lineage_files: list[str] | None = None,
        columns: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        # Declared when the URI is known at parse time (Airflow then lists this task as the
        # Asset's producer); else attached at run time through the alias.
        if asset_uri:
            kwargs.setdefault("outlets", [Asset(asset_uri)])
        elif asset_alias:
            kwargs.setdefault("outlets", [AssetAlias(asset_alias)])
        super().__init__(**kwargs)
        self.model = model
        self.executor_task_id = executor_task_id
        self.environment = environment
        self.view_schema_suffix = view_schema_suffix
        self.conn_id = conn_id
        self.asset_uri = asset_uri
        self.asset_alias = asset_alias
        # OpenLineage only: upstream SQLMesh models (read through this environment's views),
        # external or dbt tables (read as named), files it loads (absolute paths: a seed's
        # CSV), and the model's columns {name: type}.
        self.lineage_inputs = list(lineage_inputs or ())
        self.lineage_external_inputs = list(lineage_external_inputs or ())
        self.lineage_files = list(lineage_files or ())
        self.columns = dict(columns or {})

    def execute(self, context: Any) -> dict[str, Any]:
        result = context["ti"].xcom_pull(task_ids=self.executor_task_id) or {}
        outcome = (result.get("models") or {}).get(self.model)
        if outcome and outcome["status"] == "failed":
            raise SQLMeshModelFailed(self._failed(outcome["error"]))
        if outcome and outcome["status"] == "skipped":
            raise SQLMeshModelFailed(
                f"SQLMesh skipped {self.model} in '{self.environment}' because a model it reads failed"
            )
        status = "built" if outcome else "up to date"
        promoted = bool(result.get("applied")) and not result.get("failed")
        if outcome and not promoted:
            self.log.warning(
                "%s was built, but '%s' was not updated because other models failed: %s",
                self.model,
                self.environment,
                ", ".join(result.get("failed", [])),
            )
        summary = {
            "model": self.model,
            "environment": self.environment,
            "status": status,
            "promoted": promoted,
            **(
                {k: outcome[k] for k in ("intervals", "duration_ms", "audits_passed", "audits_failed")}
                if outcome
                else {}
            ),
        }
        self.log.info("SQLMesh model %s: %s", self.model, summary)
        if self.asset_uri:
            context["outlet_events"][Asset(self.asset_uri)].extra.update({"engine": "sqlmesh", **summary})
        elif self.asset_alias and self.conn_id:
            schema, table = self.model.split(".")[-2:]
            uri = table_asset_uri(BaseHook.get_connection(self.conn_id), f"{schema}{self.view_schema_suffix}", table)
            context["outlet_events"][AssetAlias(self.asset_alias)].add(
                Asset(uri), extra={"engine": "sqlmesh", **summary}
            )
        return summary

    def _failed(self, error: str | None) -> str:
        message = f"SQLMesh model {self.model} failed in '{self.environment}': {error}"
        if is_transient(error):
            message += (
                f" (a transient warehouse error: {self.executor_task_id} ran out of retries, or another model"
                f" failed on its own; Clear {self.executor_task_id} with its downstream tasks to run the stage again)"
            )
        return message

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs and output named as Cosmos/openlineage-dbt name the same tables, so
        lineage backends join SQLMesh and dbt into one graph. Called by the OpenLineage
        listener (also on failure); the provider and the connection are only touched here."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        if not self.conn_id:
            return OperatorLineage()
        from airflow_provider_dualengine.engines.sqlmesh.openlineage import model_lineage

        return model_lineage(
            BaseHook.get_connection(self.conn_id),
            self.model,
            view_schema_suffix=self.view_schema_suffix,
            sqlmesh_inputs=self.lineage_inputs,
            external_inputs=self.lineage_external_inputs,
            files=self.lineage_files,
            columns=self.columns,
        )
