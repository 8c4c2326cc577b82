"""Enforce a model's data contract on the warehouse table once the producer has built it.

The task reads the delivered table (read-only, see `contracts.runtime`), returns the
report as its XCom and fails with `ContractViolation` when a promise is broken, so
consumers downstream do not run on bad data. On success it can also record the report on
an Asset event of the producer's table (through an AssetAlias, as the SQLMesh model tasks
emit theirs): a passing check is then visible next to the data it certified.

The constructor only stores arguments (it runs at every DAG parse); the contract is
re-validated, sqlglot and the warehouse driver imported, in `execute`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetAlias, BaseOperator

from airflow_provider_dualengine.engines.connections import table_asset_uri

if TYPE_CHECKING:
    from airflow_provider_dualengine.contracts.runtime import ContractReport

EVENT_SOURCE = "contract_check"  # `extra.source` of the events this task emits
_EVENT_LOOKBACK = 20  # newest producer events read to skip the ones we emitted ourselves


class ContractViolation(RuntimeError):
    """The delivered table breaks its contract; `report` holds every check."""

    def __init__(self, message: str, report: ContractReport | None = None):
        super().__init__(message)
        self.report = report


class ContractCheckOperator(BaseOperator):
    custom_operator_name = "Data contract check"
    template_fields: Sequence[str] = ("schema", "table")
    ui_color = "#fef3c7"

    def __init__(
        self,
        *,
        contract: dict[str, Any],
        schema: str,
        table: str,
        conn_id: str = "dualengine_warehouse",
        asset_alias: str | None = None,
        producer_asset_uri: str | None = None,
        sample_size: int = 5,
        **kwargs: Any,
    ):
        if asset_alias:
            kwargs.setdefault("outlets", [AssetAlias(asset_alias)])
        if producer_asset_uri:
            # inlet_events only answers for Assets the task declares as inlets.
            kwargs.setdefault("inlets", [Asset(producer_asset_uri)])
        super().__init__(**kwargs)
        self.contract = contract
        self.schema = schema
        self.table = table
        self.conn_id = conn_id
        self.asset_alias = asset_alias
        self.producer_asset_uri = producer_asset_uri
        self.sample_size = sample_size

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.contracts import ContractModel
        from airflow_provider_dualengine.contracts.runtime import check_contract
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        contract = ContractModel.model_validate(self.contract)
        hook = WarehouseHook(self.conn_id)
        conn = hook.connection
        last_update = self._last_update(context)
        with hook.session() as warehouse:
            report = check_contract(
                warehouse,
                self.schema,
                self.table,
                contract,
                datetime.now(UTC),
                last_update,
                self.sample_size,
            )
        summary = report.to_dict()
        if not report.passed:
            self.log.error("%s", report.summary())
            if context.get("ti") is not None:  # kept for inspection: a failed task has no return value
                context["ti"].xcom_push(key="contract_report", value=summary)
            raise ContractViolation(report.summary(), report)
        self.log.info("%s", report.summary())
        if self.asset_alias:
            # The producer's Asset (its table, named as the producing task names it) carries the report.
            uri = self.producer_asset_uri or table_asset_uri(conn, self.schema, self.table)
            context["outlet_events"][AssetAlias(self.asset_alias)].add(
                Asset(uri), extra={"source": EVENT_SOURCE, **summary}
            )
        return summary

    def _last_update(self, context: Any) -> datetime | None:
        """When the producer last updated its Asset: its newest event not emitted by a check
        (ours would otherwise make the data look as fresh as the last check)."""
        if not self.producer_asset_uri:
            return None
        try:
            events = context["inlet_events"][Asset(self.producer_asset_uri)]
            if hasattr(events, "ascending"):  # the Task SDK accessor queries the API server lazily
                events = events.ascending(False).limit(_EVENT_LOOKBACK)
            stamps = [e.timestamp for e in events if (e.extra or {}).get("source") != EVENT_SOURCE]
        except Exception as exc:  # no inlet declared, API unreachable: freshness becomes a warning
            self.log.warning(
                "No Asset events for %s (%s); freshness without a freshness_column is not checked",
                self.producer_asset_uri,
                exc,
            )
            return None
        return max(stamps) if stamps else None
