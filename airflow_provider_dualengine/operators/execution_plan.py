"""The execution plan as a task: the deploy DAG's `validation.execution_plan`.

Logs the same table as `dualengine plan` (resources/plan.py: order across both engines,
each step's allocation, estimated seconds and cost per model with each estimate's source,
the critical path, the total) and returns the plan's JSON document as its XCom. It informs,
it does not gate: a run history that cannot be read (no warehouse yet, unreachable, busy
past the wait) gives "no history" estimates, never a failed task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class ExecutionPlanOperator(BaseOperator):
    """The execution plan of `environment` (a dual-engine environment of the project at
    `project_dir`; None: its default) from its recorded run history.

    :param project_dir: the project folder (holding dualengine.yml).
    :param environment: whose history and allocations the plan uses (templated).
    :param models: only these models and everything downstream of them (None: all).
    """

    custom_operator_name = "Execution plan"
    template_fields: Sequence[str] = ("environment", "models")
    ui_color = "#dbeafe"

    def __init__(
        self,
        *,
        project_dir: str,
        environment: str | None = None,
        models: list[str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.environment = environment
        self.models = models

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_dualengine.resources.plan import load_plan, render_plan

        document = load_plan(self.project_dir, self.environment, models=self.models or None)
        self.log.info("Execution plan:\n%s", render_plan(document))
        if not document["history"]["readable"]:
            self.log.warning("run history not read, so nothing is estimated: %s", document["history"]["reason"])
        return document
