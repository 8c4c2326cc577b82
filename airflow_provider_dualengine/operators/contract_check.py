"""Enforce a model's data contract on the warehouse table once the producer has built it.

The task reads the delivered table (read-only, see `contracts.runtime`), returns the
report as its XCom and fails with `ContractViolation` when a promise is broken, so
consumers downstream do not run on bad data.

A freshness SLA is measured from the contract's `freshness_column` when it names one, else
from when the producer last wrote the table, as its engine recorded it: SQLMesh's own
state (`last_altered_ts` of the table the environment reads), the dbt build outcome of the
task that built it in this run, or the producer's last Asset event. On success it can also record the report on
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
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.engines.connections import table_asset_uri
from airflow_provider_dualengine.links.view import ContractLink

if TYPE_CHECKING:
    from airflow_provider_dualengine.contracts.runtime import ContractReport

EVENT_SOURCE = "contract_check"  # `extra.source` of the events this task emits
_EVENT_LOOKBACK = 20  # newest producer events read to skip the ones we emitted ourselves


class ContractViolation(RuntimeError, AirflowFailException):
    """The delivered table breaks its contract; `report` holds every check. Never retried:
    the same data breaks it again (an AirflowFailException)."""

    def __init__(self, message: str, report: ContractReport | None = None):
        super().__init__(message)
        self.report = report


class ContractCheckOperator(BaseOperator):
    custom_operator_name = "Data contract check"
    operator_extra_links = (ContractLink(),)
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
        sqlmesh_environment: str | None = None,
        project_path: str | None = None,
        gateway: str | None = None,
        dbt_outcome_task_id: str | None = None,
        sample_size: int = 5,
        history: dict[str, Any] | None = None,
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
        self.sqlmesh_environment = sqlmesh_environment
        self.project_path = project_path
        self.gateway = gateway
        self.dbt_outcome_task_id = dbt_outcome_task_id
        self.sample_size = sample_size
        # Run history (monitoring/history.py): {"environment": name, "engine": producer's engine}
        self.history = history

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.contracts import ContractModel
        from airflow_provider_dualengine.contracts.runtime import check_contract
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook

        contract = ContractModel.model_validate(self.contract)
        hook = WarehouseHook(self.conn_id)
        conn = hook.connection
        needs_date = contract.sla is not None and contract.sla.max_age is not None and not contract.sla.freshness_column
        last_update, source = self._last_update(contract.name, context) if needs_date else (None, None)
        started = datetime.now(UTC)
        with hook.session() as warehouse:
            report = check_contract(
                warehouse,
                self.schema,
                self.table,
                contract,
                datetime.now(UTC),
                last_update,
                self.sample_size,
                last_update_source=source,
            )
        summary = report.to_dict()
        self._record_history(context, contract.name, summary, started)
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

    def _record_history(self, context: Any, model: str, summary: dict[str, Any], started: datetime) -> None:
        """One run history row for this check: checks passed and failed, the SLA met or not."""
        if not self.history or context.get("ti") is None:
            return
        from airflow_provider_dualengine.monitoring.engine_records import TaskRun, record_task_history

        ended = datetime.now(UTC)
        history = self.history

        def build() -> list[Any]:
            results = [r for r in summary.get("results", []) if not r.get("warning") and not r.get("not_run")]
            failed = [r for r in results if not r["passed"]]
            freshness = [r["passed"] for r in results if r.get("check") == "freshness"]
            record = TaskRun.from_context(context, history["environment"]).record(
                kind="contract_check",
                engine=history.get("engine") or "sqlmesh",
                model=model,
                status="success" if summary.get("passed") else "failed",
                started_at=started,
                ended_at=ended,
                duration_s=round((ended - started).total_seconds(), 3),
                tests_passed=len(results) - len(failed),
                tests_failed=len(failed),
                sla_met=all(freshness) if freshness else None,
                data_age_s=_age_s(summary),
                message="; ".join(f"{r['check']} {r.get('column') or ''}: {r.get('message')}".strip() for r in failed)
                or None,
            )
            return [record]

        record_task_history(self.conn_id, build, logger=self.log)

    def _last_update(self, model: str, context: Any) -> tuple[datetime | None, str]:
        """When the producer last wrote its table, and where that was read (or why not)."""
        if self.sqlmesh_environment:
            return self._sqlmesh_last_write(model)
        if self.dbt_outcome_task_id:
            return self._dbt_build_end(model, context)
        if self.producer_asset_uri:
            return self._last_asset_event(context)
        return None, "the check was given no way to date the producer's data (no SQLMesh state, dbt outcome or Asset)"

    def _sqlmesh_last_write(self, model: str) -> tuple[datetime | None, str]:
        from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook

        env = self.sqlmesh_environment or "prod"
        hook = SQLMeshHook(self.project_path, gateway=self.gateway, conn_id=self.conn_id)
        found = hook.model_freshness(model, env, datetime.now(UTC))
        if not found.present and "locked by a writer" in found.reason:
            raise RuntimeError(found.reason)  # transient: the task's retry reads it again
        if found.last_altered is None:
            return None, f"SQLMesh state records no write of {model} in environment '{env}': {found.reason}"
        return found.last_altered, f"SQLMesh's last write of {model} in environment '{env}'"

    def _dbt_build_end(self, model: str, context: Any) -> tuple[datetime | None, str]:
        """The build task's outcomes (`models`), or a model task's own summary."""
        pulled = context["ti"].xcom_pull(task_ids=self.dbt_outcome_task_id) or {}
        outcome = (pulled.get("models") or {}).get(model) if "models" in pulled else pulled
        stamp = (outcome or {}).get("completed_at")
        if not stamp:
            return None, f"task {self.dbt_outcome_task_id} reported no completed build of dbt model {model}"
        return datetime.fromisoformat(
            stamp.replace("Z", "+00:00")
        ), f"dbt's build of {model} in {self.dbt_outcome_task_id}"

    def _last_asset_event(self, context: Any) -> tuple[datetime | None, str]:
        """The producer's newest Asset event not emitted by a check (ours would otherwise
        make the data look as fresh as the last check)."""
        assert self.producer_asset_uri
        try:
            events = context["inlet_events"][Asset(self.producer_asset_uri)]
            if hasattr(events, "ascending"):  # the Task SDK accessor queries the API server lazily
                events = events.ascending(False).limit(_EVENT_LOOKBACK)
            stamps = [e.timestamp for e in events if (e.extra or {}).get("source") != EVENT_SOURCE]
        except Exception as exc:  # no inlet declared, API unreachable
            return None, f"the Asset events of {self.producer_asset_uri} could not be read: {exc}"
        if not stamps:
            return None, f"no Asset event of {self.producer_asset_uri} records a write by the producer"
        return max(stamps), "the producer's last Asset event"


def _age_s(summary: dict[str, Any]) -> float | None:
    """Seconds between the producer's last write and the check (the data's freshness lag)."""
    if not summary.get("last_update") or not summary.get("checked_at"):
        return None
    checked, written = datetime.fromisoformat(summary["checked_at"]), datetime.fromisoformat(summary["last_update"])
    if written.tzinfo is None:
        written = written.replace(tzinfo=UTC)
    if checked.tzinfo is None:
        checked = checked.replace(tzinfo=UTC)
    return round(max((checked - written).total_seconds(), 0.0), 3)
