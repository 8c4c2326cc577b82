"""Alert evaluation in the DAGs: a last task of each run when rules exist, the monitor DAG,
and a broken rule as a readable import error."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.errors import DualEngineConfigError

RULES = """
alerts:
  - name: performance_degradation
    condition: "avg_execution_time > 2 * baseline"
    severity: medium
    actions: [notify_team]
notifiers:
  notify_team:
    class: airflow_provider_dualengine.notifications.webhook.WebhookNotifier
    args: {url: "http://127.0.0.1:9/hook"}
"""


def _with_rules(project: Path, text: str) -> Path:
    path = project / "config" / "monitoring.yml"
    path.write_text(path.read_text().replace("alerts: []\n", "") + text)
    return project


def test_without_rules_no_alert_task_is_added(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    assert "alerts" not in build_dag(example_project).task_ids


def test_rules_add_a_last_task_that_runs_whatever_happened(project_copy: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(_with_rules(project_copy, RULES))
    alerts = dag.get_task("alerts")
    # a teardown: runs whatever happened, and never decides the run's state
    assert alerts.is_teardown and alerts.run_scoped and alerts.environment == "development"
    leaves = {t.task_id for t in dag.tasks if not t.downstream_task_ids}
    assert leaves == {"alerts"}  # after every stage
    assert alerts.pool == "dualengine_warehouse"  # it writes dualengine.alerts: DuckDB's one writer


def test_the_monitor_dag_evaluates_the_window(project_copy: Path) -> None:
    from airflow_provider_dualengine import build_monitor_dag

    dag = build_monitor_dag(_with_rules(project_copy, RULES), days=7)
    [task] = dag.tasks
    assert (dag.dag_id, task.run_scoped, task.days) == ("dualengine_shop_development_monitor", False, 7)


def test_a_misspelt_condition_is_an_import_error_naming_file_and_key(project_copy: Path) -> None:
    from airflow_provider_dualengine import build_dag

    _with_rules(project_copy, RULES.replace("avg_execution_time", "avg_exec_time"))
    with pytest.raises(DualEngineConfigError) as caught:
        build_dag(project_copy)
    assert "monitoring.yml: alerts[0].condition: unknown metric 'avg_exec_time'" in str(caught.value)
