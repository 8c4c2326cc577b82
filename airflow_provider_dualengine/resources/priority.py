"""Priority weights that follow the execution window (the seed's `priority: dbt_models`).

Airflow computes a task instance's priority weight once, when the scheduler creates it
for a DAG run, through the task's `weight_rule`. These strategies (registered by the
provider's plugin) add `PRIORITY_BOOST` to an engine's tasks when the window the run is
created in gives that engine priority: the window a run starts in orders its engines.
Airflow does not serialize a strategy's parameters, so the engine is the class and the
project is read from the DAG's `dualengine:<project>` tag; its windows come from the
project folders Airflow is configured with (resources/windows.py). Anything unreadable
leaves the task's own weight: a weight rule must never stop the scheduler.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.task.priority_strategy import PriorityWeightStrategy

from airflow_provider_dualengine.resources.allocation import PRIORITY_BOOST

log = logging.getLogger(__name__)
PROJECT_TAG = "dualengine:"


def window_boost(project_name: str | None, engine: str, moment: Any = None) -> int:
    """PRIORITY_BOOST when `engine` has priority in its project's window at `moment` (now)."""
    from airflow_provider_dualengine.resources.windows import resources_of

    if not project_name:
        return 0
    found = resources_of(project_name)
    if found is None or found[1].execution_schedule is None:
        return 0
    import pendulum

    window = found[1].execution_schedule.window_at(moment or pendulum.now("UTC"))
    return PRIORITY_BOOST if window.rules.priority_engine == engine else 0


def project_of_tags(tags: Any) -> str | None:
    return next((t[len(PROJECT_TAG) :] for t in tags or () if str(t).startswith(PROJECT_TAG)), None)


class _WindowPriority(PriorityWeightStrategy):
    engine = ""

    def get_weight(self, ti: Any) -> int:
        task = ti.task
        base = int(getattr(task, "priority_weight", 1) or 1)
        try:
            dag = getattr(task, "dag", None)
            return base + window_boost(project_of_tags(getattr(dag, "tags", None)), self.engine)
        except Exception:  # noqa: BLE001 - the scheduler calls this; keep the task's own weight
            log.warning("dualengine: no window priority for %s (kept weight %s)", ti.task_id, base, exc_info=True)
            return base


class SQLMeshWindowPriority(_WindowPriority):
    """Weight of a SQLMesh task: its own, plus the boost in windows with `priority: sqlmesh_models`."""

    engine = "sqlmesh"


class DbtWindowPriority(_WindowPriority):
    """Weight of a dbt task: its own, plus the boost in windows with `priority: dbt_models`."""

    engine = "dbt"


STRATEGIES = {"sqlmesh": SQLMeshWindowPriority, "dbt": DbtWindowPriority}
