"""Evaluate the project's alert rules and deliver what fires (monitoring/alerts.py).

`build_dag` places one at the end of every pipeline run (a teardown: it runs after every
other task whatever their outcome - a failed run is exactly when alerts matter - and never
decides the run's state), scoped to that run's executions; `build_monitor_dag`
runs one on a schedule over the whole window (deployments, lags and costs that no single
pipeline run sees). Both share `dualengine.alerts`, so they never repeat each other.
The task fails only when the rules cannot be read; anything else (a warehouse busy past the
wait, a notifier that cannot be built or fails) is logged, and the summary says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator


class AlertEvaluationOperator(BaseOperator):
    """:param project_dir: the dual-engine project.
    :param environment: the environment whose history is evaluated (None: all).
    :param run_scoped: evaluate only this DAG run's executions (end of a pipeline run).
    :param days: the metrics window (baselines and daily costs look this far back)."""

    custom_operator_name = "Dual-engine alerts"
    template_fields: Sequence[str] = ("environment",)
    ui_color = "#fee2e2"

    def __init__(
        self,
        *,
        project_dir: str,
        environment: str | None = None,
        run_scoped: bool = True,
        days: int = 30,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.environment = environment
        self.run_scoped = run_scoped
        self.days = days

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.config.monitoring import load_monitoring, monitoring_file
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.monitoring.alert_rules import load_rules

        project = load_project(self.project_dir)
        config = load_monitoring(project)
        rules = load_rules(config.alerts, set(config.notifiers), monitoring_file(project))
        if not rules:
            self.log.info("no alert rules in %s", monitoring_file(project))
            return {"rules": 0, "fired": 0, "delivered": 0}
        try:
            delivered, fired = self._evaluate(project, config, rules, context)
        except Exception as exc:  # noqa: BLE001 - see the module doc: alerts never fail a run
            self.log.error("alerts not evaluated: %s: %s", type(exc).__name__, exc)
            return {"rules": len(rules), "fired": None, "delivered": [], "error": f"{type(exc).__name__}: {exc}"}
        summary = {"rules": len(rules), "fired": fired, "delivered": [f.payload() for f in delivered]}
        self.log.info("alerts: %d rules, %d firing, %d delivered", len(rules), fired, len(delivered))
        return summary

    def _evaluate(self, project: Any, config: Any, rules: Any, context: Any) -> tuple[list[Any], int]:
        """(delivered firings, how many fired) for this run, or the window."""
        from airflow_provider_dualengine.compiled.artifact import read_artifact
        from airflow_provider_dualengine.graph import build_graph
        from airflow_provider_dualengine.hooks.warehouse import WarehouseHook
        from airflow_provider_dualengine.monitoring import alerts
        from airflow_provider_dualengine.monitoring.metrics import last_days, metrics_document, read_history

        since, until = last_days(self.days)
        rows, deployments = read_history(project.settings.warehouse.conn_id, since, self.environment)
        edges = build_graph(project).models_graph.cross_engine_edges()
        document = metrics_document(
            rows, deployments, edges, config, since=since, until=until, environment=self.environment
        )
        dag_run = context.get("dag_run") if self.run_scoped else None
        owners = {
            f"{engine.value}:{name}": model.owner
            for engine, catalog in read_artifact(project, check_fresh=False)
            .catalogs(project.root, project.sqlmesh_path)
            .items()
            for name, model in catalog.models.items()
            if model.owner
        }
        firings = alerts.evaluate(
            rules,
            document,
            rows,
            run_id=dag_run.run_id if dag_run is not None else None,
            dag_id=dag_run.dag_id if dag_run is not None else None,
            owners=owners,
            base_url=_base_url(),
            min_execution_s=config.alerting.min_execution_s,
        )
        if not firings:
            return [], 0
        cooldown = timedelta(seconds=config.alerting.cooldown_s)
        with WarehouseHook(project.settings.warehouse.conn_id).session(autocommit=True) as warehouse:
            delivered = alerts.process(warehouse, firings, notifiers(config.notifiers), cooldown, context=dict(context))
        return delivered, len(firings)


def notifiers(specs: dict[str, Any]) -> dict[str, Any]:
    """Notifier instances by action name (config/monitoring.py NotifierSpec)."""
    from importlib import import_module

    from airflow.sdk import BaseNotifier

    built = {}
    for name, spec in specs.items():
        module, _, attribute = spec.class_.rpartition(".")
        cls = getattr(import_module(module), attribute)
        if not (isinstance(cls, type) and issubclass(cls, BaseNotifier)):
            raise TypeError(f"notifier '{name}': {spec.class_} is not an Airflow BaseNotifier")
        built[name] = cls(**spec.args)
    return built


def _base_url() -> str:
    """Where the Airflow UI is, as Airflow itself builds task links ([api] base_url)."""
    from airflow.configuration import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/") or "http://localhost:8080/"
