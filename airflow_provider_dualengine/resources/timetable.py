"""A timetable firing at every execution-window boundary, for the DAG that re-applies
each engine's share of the warehouse's slots when a window starts (factory/resources_dag.py).

The windows are the timetable's own serialized parameters (time zone + start second of
each window), so the scheduler needs nothing but Airflow's plugin registry to use it.
Boundaries may carry seconds (`18:00:30`); a cron expression could not.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable


class WindowBoundariesTimetable(Timetable):
    description = "at each execution-window boundary"
    can_be_scheduled = True

    def __init__(self, timezone: str, starts: list[int]):
        self.timezone = timezone
        self.starts = sorted(set(starts))

    @property
    def summary(self) -> str:
        times = ", ".join(
            f"{s // 3600:02d}:{s % 3600 // 60:02d}" + (f":{s % 60:02d}" if s % 60 else "") for s in self.starts
        )
        return f"window starts {times} ({self.timezone})"

    def serialize(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "starts": self.starts}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> WindowBoundariesTimetable:
        return cls(data["timezone"], list(data["starts"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WindowBoundariesTimetable) and other.serialize() == self.serialize()

    def __hash__(self) -> int:
        return hash((self.timezone, tuple(self.starts)))

    def next_boundary(self, after: Any) -> pendulum.DateTime:
        """The first window start strictly after `after`, in UTC."""
        from airflow_provider_dualengine.config.resources import next_window_start

        return next_window_start(after, self.timezone, self.starts).in_timezone("UTC")

    def infer_manual_data_interval(self, *, run_after: Any) -> DataInterval:
        return DataInterval.exact(run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: Any, restriction: Any) -> DagRunInfo | None:
        now = pendulum.now("UTC")
        after = last_automated_data_interval.end if last_automated_data_interval else None
        if after is None or not restriction.catchup:
            # never replay boundaries that passed while the DAG was off: only the next one
            after = max(filter(None, [after, now.subtract(seconds=1)]))
        if restriction.earliest is not None and after < restriction.earliest:
            after = restriction.earliest.subtract(microseconds=1)
        moment = self.next_boundary(after)
        if restriction.latest is not None and moment > restriction.latest:
            return None
        return DagRunInfo.exact(moment)
