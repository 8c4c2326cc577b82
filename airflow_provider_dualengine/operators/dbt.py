"""One `dbt build` per stage: dbt's start, parse and connection are paid once, not per model.

The stage task builds the stage's models and their tests in one dbt invocation (in this
process, through dbt's Python entry point) and records every model's outcome in XCom;
each model's own task (`DbtModelOperator`) reports it, so statuses, Assets, lineage and
failures stay per model. A model that fails does not fail this task: dbt goes on with the
models that do not depend on it, and the model's task fails. A dbt that cannot start
(broken project, profile or connection) fails this task, and every model task with it.
Without model tasks (`fail_on_model_error`), failed models fail this task: Airflow retries
it only when every failure was a transient warehouse error (engines/transient.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dualengine.engines.transient import all_transient
from airflow_provider_dualengine.hooks.dbt import DbtHook
from airflow_provider_dualengine.operators.deployment_gate import WaitsForDeployments, wait_while_deploying
from airflow_provider_dualengine.operators.engine_session import EngineResources, engine_resources, report_session


class DbtModelsFailed(RuntimeError):
    """Models of the build failed. Raised as is (Airflow retries the build) when every
    failure was a transient warehouse error; else as `DbtModelsFailedNoRetry`."""


class DbtModelsFailedNoRetry(DbtModelsFailed, AirflowFailException):
    """A model or test failed on its own: the same build would fail again, so the task
    fails without a retry."""


class DbtOperatorBase(BaseOperator):
    """What every dbt task of ours needs to run dbt: project, warehouse, profile, vars.

    :param project_dir: the dbt project folder.
    :param conn_id: the warehouse connection; `warehouse_type` says which profile mapping.
    :param profile_name: / :param target_name: the dbt profile and target of the environment.
    :param schema: the schema dbt builds into (templated: a deployment decides it at run time).
    :param dbt_vars: dbt `--vars` (templated), e.g. the SQLMesh view suffix of the environment.
    :param env: environment variables while dbt runs (templated), e.g. for the dbt plugin.
    :param history: record what dbt reports in the run history: `{"environment": name,
        "relations": {model: schema.table}}` (the factory sets it; None records nothing).
    :param threads: dbt threads; :param warehouse_session: warehouse session settings
        (DuckDB `threads`, `memory_limit`; PostgreSQL `work_mem`, `statement_timeout`). Not
        given: dbt's allocation in `config/resources.yml` of the dual-engine project, read at
        run time (operators/engine_session.py); no file: 1 thread, the warehouse's defaults.
    :param resources_from: where that allocation is read from: `{"project_dir": ..., "environment": ...}`
        (the factory passes both; else the project above `project_dir`, the environment
        whose dbt target this task uses).
    """

    template_fields: Sequence[str] = ("schema", "dbt_vars", "env")

    def __init__(
        self,
        *,
        project_dir: str,
        conn_id: str,
        warehouse_type: str,
        profile_name: str,
        target_name: str,
        schema: str,
        dbt_vars: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        history: dict[str, Any] | None = None,
        threads: int | None = None,
        warehouse_session: dict[str, Any] | None = None,
        resources_from: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.threads = threads
        self.warehouse_session = warehouse_session
        self.resources_from = resources_from
        self.project_dir = project_dir
        self.conn_id = conn_id
        self.warehouse_type = warehouse_type
        self.profile_name = profile_name
        self.target_name = target_name
        self.schema = schema
        self.dbt_vars = dict(dbt_vars or {})
        self.env = dict(env or {})
        self.history = history

    def hook(self) -> DbtHook:
        allocated = self.engine_resources
        return DbtHook(
            self.conn_id,
            warehouse_type=self.warehouse_type,
            profile_name=self.profile_name,
            target_name=self.target_name,
            schema=self.schema,
            threads=allocated.parallelism,
            warehouse_session=allocated.session,
        )

    @property
    def engine_resources(self) -> EngineResources:
        """dbt's threads and session settings for this task (read once per task)."""
        cached = self.__dict__.get("_engine_resources")
        if cached is None:
            target = self.target_name
            cached = engine_resources(
                "dbt",
                self.project_dir,
                parallelism=self.threads,
                session=self.warehouse_session,
                resources_from=self.resources_from,
                environment_hints=(
                    getattr(self, "deployment_environment", None),
                    (self.history or {}).get("environment"),
                ),
                matches=lambda env: env.dbt_target == target,
                log=self.log,
            )
            self.__dict__["_engine_resources"] = cached
        return cached

    def dbt_build(self, models: list[str], read_back: tuple[str, ...] = ()) -> dict[str, Any]:
        return self.hook().build(self.project_dir, models, vars=self.dbt_vars, env=self.env, read_back=read_back)

    def record_history(self, context: Any, outcomes: dict[str, Any]) -> None:
        """Append what dbt reported to the run history (monitoring/history.py), when asked to."""
        if not self.history or context.get("ti") is None:
            return
        from airflow_provider_dualengine.monitoring.engine_records import TaskRun, dbt_records, record_task_history

        history = self.history
        record_task_history(
            self.conn_id,
            lambda: dbt_records(TaskRun.from_context(context, history["environment"]), outcomes),
            history.get("relations"),
            self.log,
        )


class DbtBuildOperator(WaitsForDeployments, DbtOperatorBase):
    """`dbt build` of `models` (with their tests) in one invocation.

    :param models: the dbt model names to build.
    :param fail_on_model_error: fail this task when a model or its tests fail (off when each
        model has its own task, which then fails instead).
    """

    custom_operator_name = "dbt build"
    ui_color = "#fde7d9"

    def __init__(
        self,
        *,
        models: list[str],
        fail_on_model_error: bool = True,
        deployment_environment: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.models = list(models)
        self.fail_on_model_error = fail_on_model_error
        self.deployment_environment = deployment_environment

    def execute(self, context: Any) -> dict[str, Any]:
        wait_while_deploying(self, context)
        from airflow_provider_dualengine.engines.session_settings import reported_names

        allocated = self.engine_resources
        result = self.dbt_build(self.models, read_back=tuple(reported_names(self.warehouse_type, allocated.session)))
        self._report_session(result.pop("warehouse_session", None), context)
        self.record_history(context, result["models"])
        for name in self.models:
            outcome = result["models"].get(name)
            self.log.info("dbt %s: %s", name, _describe(outcome))
        missing = [m for m in self.models if m not in result["models"]]
        if missing:
            self.log.warning("dbt did not build %s (disabled, or not selected by the project)", ", ".join(missing))
        if self.fail_on_model_error and result["failed"]:
            raise _models_failed(result)
        return result

    def _report_session(self, read_back: dict[str, str] | None, context: Any) -> None:
        """Log and push (XCom `warehouse_session`) dbt's session settings: read back on DuckDB
        (the database dbt used in this process holds them), the configured ones on PostgreSQL
        (dbt's sessions are gone; reading them would take another dbt invocation)."""
        from airflow_provider_dualengine.engines.session_settings import session_report

        allocated = self.engine_resources
        report = session_report(
            engine="dbt",
            warehouse=self.warehouse_type,
            configured=allocated.session,
            read_back=read_back,
            parallelism={"threads": allocated.parallelism or 1},
            source=allocated.source,
        )
        report_session(self, context, report)


def _models_failed(result: dict[str, Any]) -> DbtModelsFailed:
    """Retryable only when every model or test error was transient; a model dbt skipped
    for another's failure has no cause of its own."""
    message = f"dbt models failed: {', '.join(result['failed'])}"
    outcomes = [result["models"][name] for name in result["failed"]]
    causes = [o["message"] for o in outcomes if o["status"] == "error"]
    causes += [t["message"] for o in outcomes for t in o["tests_failed"]]
    if all_transient(causes):
        return DbtModelsFailed(f"{message} (a transient warehouse error: Airflow retries this build)")
    return DbtModelsFailedNoRetry(message)


def _describe(outcome: dict[str, Any] | None) -> str:
    if outcome is None:
        return "not built"
    tests = f"{outcome['tests_passed']} tests passed"
    if outcome["tests_failed"]:
        tests += f", {len(outcome['tests_failed'])} failed ({', '.join(t['test'] for t in outcome['tests_failed'])})"
    if outcome["tests_warned"]:
        tests += f", {len(outcome['tests_warned'])} warned"
    rows = f", {outcome['rows_affected']} rows" if outcome.get("rows_affected") is not None else ""
    return f"{outcome['status']} in {outcome['execution_s']} s{rows}; {tests}" + (
        f"; {outcome['message']}" if outcome["status"] != "success" and outcome.get("message") else ""
    )
