"""One Airflow task per dbt model, fed by its stage's single `dbt build`.

The first try reads the model's outcome from the stage task (an XCom read: no dbt
start, no parse), fails when the model or one of its tests failed (Airflow then marks
everything downstream upstream_failed) and emits the model's Asset.

A retry (an automatic retry or a user's Clear of this task) that finds the model not
built runs `dbt build --select <model>` itself: the model and its tests, nothing else,
against the same environment. A model that was built is only reported again.

Airflow retries this task only when a retry can succeed unchanged: the model or a test
hit a transient warehouse error (engines/transient.py), or dbt skipped the model because
a model it reads failed (this task runs after that model's task succeeded, so its retry
builds the model). A model or test that failed on its own fails the task at once
(`DbtModelFailedNoRetry`): the same build would fail again.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, BaseHook
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.engines.transient import all_transient
from airflow_provider_dualengine.links.view import ModelLineageLink
from airflow_provider_dualengine.operators.dbt import DbtOperatorBase

RETRIED = "a transient warehouse error: Airflow retries this task, which builds the model alone"


class DbtModelFailed(RuntimeError):
    """The model was not built, or its tests failed. Raised as is (Airflow retries it) when
    a retry can succeed unchanged; else as `DbtModelFailedNoRetry`."""


class DbtModelFailedNoRetry(DbtModelFailed, AirflowFailException):
    """The model or its tests failed on their own: the task fails without a retry. Fix the
    model (or the data), then Clear the task: it rebuilds the model alone."""


class DbtModelOperator(DbtOperatorBase):
    """Report (or, on a retry, rebuild) one dbt model of a stage.

    :param model: the dbt model name.
    :param build_task_id: the stage's `DbtBuildOperator` task.
    :param relation: `schema.table` the model writes in this environment (lineage, Asset extra).
    :param asset_uri: the model table's Asset, declared as this task's outlet.
    :param lineage_inputs: `schema.table` names the model reads in this environment.
    :param columns: the model's columns {name: type} where known (lineage schema facet).
    """

    custom_operator_name = "dbt model"
    operator_extra_links = (ModelLineageLink(),)
    dualengine_engine = "dbt"
    ui_color = "#fde7d9"

    def __init__(
        self,
        *,
        model: str,
        build_task_id: str,
        relation: str,
        asset_uri: str | None = None,
        lineage_inputs: list[str] | None = None,
        columns: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        if asset_uri:
            kwargs.setdefault("outlets", [Asset(asset_uri)])
        super().__init__(**kwargs)
        self.model = model
        self.build_task_id = build_task_id
        self.relation = relation
        self.asset_uri = asset_uri
        self.lineage_inputs = list(lineage_inputs or ())
        self.columns = dict(columns or {})

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        result = ti.xcom_pull(task_ids=self.build_task_id) or {}
        outcome = (result.get("models") or {}).get(self.model)
        rebuilt = False
        if ti.try_number > 1 and (outcome is None or outcome["status"] != "success"):
            self.log.info("retry %s: building %s and its tests on its own", ti.try_number, self.model)
            built = self.dbt_build([self.model])["models"]
            self.record_history(context, built)
            outcome = built.get(self.model)
            rebuilt = True
        outcome = self._built(outcome)
        summary = {
            "model": self.model,
            "relation": self.relation,
            "status": "built",
            "rebuilt_by_this_task": rebuilt,
            **{k: outcome.get(k) for k in ("execution_s", "rows_affected", "completed_at", "tests_passed")},
            "tests_warned": [t["test"] for t in outcome["tests_warned"]],
        }
        for warning in outcome["tests_warned"]:
            self.log.warning("dbt test %s warned: %s", warning["test"], warning["message"])
        self.log.info("dbt model %s: %s", self.model, summary)
        if self.asset_uri:
            context["outlet_events"][Asset(self.asset_uri)].extra.update({"engine": "dbt", **summary})
        return summary

    def _built(self, outcome: dict[str, Any] | None) -> dict[str, Any]:
        """The outcome of a model that was built and passed its tests; else the reason, raised."""
        where = f"dbt model {self.model} ({self.relation})"
        if outcome is None:
            raise DbtModelFailedNoRetry(f"{where} was not built by {self.build_task_id}: see that task's log")
        if outcome["status"] == "skipped":
            raise DbtModelFailed(
                f"{where} was skipped by dbt because a model or test it depends on failed; a retry builds it alone"
            )
        if outcome["status"] == "error":
            raise _failure(f"{where} failed: {outcome['message']}", [outcome["message"]])
        if outcome["tests_failed"]:
            failures = "; ".join(f"{t['test']}: {t['message']}" for t in outcome["tests_failed"])
            causes = [t["message"] for t in outcome["tests_failed"]]
            raise _failure(f"{where} was built but its tests failed: {failures}", causes)
        return outcome

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs and output named like the SQLMesh model tasks name theirs (one rule,
        engines/openlineage.py), so lineage backends join both engines on shared tables."""
        from airflow_provider_dualengine.engines.openlineage import table_lineage

        return table_lineage(
            BaseHook.get_connection(self.conn_id), self.relation, self.lineage_inputs, self.columns or None
        )


def _failure(message: str, causes: list[str | None]) -> DbtModelFailed:
    """Retryable only when every cause is a transient warehouse error."""
    if all_transient(causes):
        return DbtModelFailed(f"{message} ({RETRIED})")
    return DbtModelFailedNoRetry(message)
