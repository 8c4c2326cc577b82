"""Re-applies each engine's pool slots for the window that has just started (the DAG of
factory/resources_dag.py runs it at every window boundary)."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import BaseOperator


class ApplyResourcesOperator(BaseOperator):
    custom_operator_name = "Apply engine pools"
    template_fields = ()

    def __init__(self, *, project_dir: str, airflow_api_conn_id: str = "dualengine_airflow_api", **kwargs: Any):
        super().__init__(**kwargs)
        self.project_dir = project_dir
        self.airflow_api_conn_id = airflow_api_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow_provider_dualengine.config.project import load_project
        from airflow_provider_dualengine.hooks.airflow_api import AirflowApiHook
        from airflow_provider_dualengine.resources.pools import apply_pools, desired_pools

        project = load_project(self.project_dir)
        changes = apply_pools(AirflowApiHook(self.airflow_api_conn_id), desired_pools(project, pendulum.now("UTC")))
        for change in changes:
            self.log.info(
                "pool %s: %s slots (%s; was %s) - %s",
                change.pool,
                change.slots,
                change.outcome,
                change.previous,
                change.description,
            )
        return [{"pool": c.pool, "slots": c.slots, "outcome": c.outcome, "previous": c.previous} for c in changes]
