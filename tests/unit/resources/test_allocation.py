"""Each engine's allocation at a moment: pools and slots by window, priority, the DuckDB
writer rule; the window timetable; the priority weight strategy; the gate's decision."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest

from airflow_provider_dualengine.config import load_project
from airflow_provider_dualengine.resources.allocation import PRIORITY_BOOST, allocations, holds_scheduled_work
from airflow_provider_dualengine.resources.timetable import WindowBoundariesTimetable
from tests.conftest import EXAMPLE_PROJECT

NOON = datetime(2026, 12, 7, 12, tzinfo=UTC)  # peak_hours in the example
NIGHT = datetime(2026, 12, 7, 23, tzinfo=UTC)  # off_peak_hours


def test_windows_split_the_shared_warehouse_between_the_engines(postgres_project_copy: Path) -> None:
    project = load_project(postgres_project_copy)
    day, night = allocations(project, "production", NOON), allocations(project, "production", NIGHT)
    # peak: 70% dbt / 30% sqlmesh of the shared warehouse's 10 slots; dbt has priority
    assert (day["dbt"].slots, day["sqlmesh"].slots) == (7, 3)
    assert (day["dbt"].priority_boost, day["sqlmesh"].priority_boost) == (PRIORITY_BOOST, 0)
    assert day["sqlmesh"].execution == "limited" and day["dbt"].execution == "full"
    assert day["dbt"].slots_source == "70% of 10 warehouse slots (shared_resources.staging_warehouse) in peak_hours"
    # off-peak: 80% sqlmesh, dbt maintenance_only
    assert (night["sqlmesh"].slots, night["dbt"].slots) == (8, 2)
    assert night["dbt"].execution == "maintenance_only" and night["sqlmesh"].priority_boost == PRIORITY_BOOST
    # pools per project, environment and engine; threads and concurrent tasks per engine
    assert day["sqlmesh"].pool == "dualengine_shop_production_sqlmesh"
    assert (day["dbt"].threads, day["sqlmesh"].session) == (8, {})


def test_duckdb_keeps_one_writer_pool_for_both_engines() -> None:
    project = load_project(EXAMPLE_PROJECT)
    found = allocations(project, "development", NOON)
    assert found["sqlmesh"].pool is None and found["dbt"].pool is None
    assert project.settings.warehouse.writer_pool == "dualengine_warehouse"
    assert found["dbt"].priority_boost == PRIORITY_BOOST  # the order in the one slot still follows the window
    assert found["dbt"].threads == 1  # resources.yml says 2: one file, one dbt thread


def test_without_windows_each_engine_has_its_own_slots(postgres_project_copy: Path) -> None:
    path = postgres_project_copy / "config" / "resources.yml"
    path.write_text(
        "resource_allocation:\n  sqlmesh_resources:\n    development: {max_concurrent_queries: 2}\n"
        "  dbt_resources:\n    development: {threads: 3}\n"
    )
    found = allocations(load_project(postgres_project_copy), "development", NOON)
    assert (found["sqlmesh"].slots, found["sqlmesh"].slots_source) == (
        2,
        "sqlmesh_resources.development.max_concurrent_queries",
    )
    assert (found["dbt"].slots, found["dbt"].slots_source) == (3, "dbt_resources.development.threads")
    assert found["dbt"].window is None and found["dbt"].priority_boost == 0
    # an environment without an allocation gets no pool (default_pool)
    assert allocations(load_project(postgres_project_copy), "production", NOON)["dbt"].pool is None


def test_maintenance_only_holds_scheduled_and_asset_triggered_runs_only(postgres_project_copy: Path) -> None:
    night = allocations(load_project(postgres_project_copy), "development", NIGHT)["dbt"]
    assert holds_scheduled_work(night, "scheduled") and holds_scheduled_work(night, "asset_triggered")
    assert not holds_scheduled_work(night, "manual") and not holds_scheduled_work(night, "backfill")
    day = allocations(load_project(postgres_project_copy), "development", NOON)["dbt"]
    assert not holds_scheduled_work(day, "scheduled")


def test_the_timetable_fires_at_each_window_start_and_round_trips() -> None:
    from airflow.timetables.base import DataInterval, TimeRestriction

    table = WindowBoundariesTimetable("Europe/Berlin", [8 * 3600, 18 * 3600 + 30])
    assert WindowBoundariesTimetable.deserialize(table.serialize()) == table
    assert table.summary == "window starts 08:00, 18:00:30 (Europe/Berlin)"
    # after 17:00 UTC (18:00 Berlin) the next start is 18:00:30 Berlin = 17:00:30 UTC
    assert table.next_boundary(pendulum.datetime(2026, 12, 7, 17, tz="UTC")) == pendulum.datetime(
        2026, 12, 7, 17, 0, 30, tz="UTC"
    )
    # across midnight: the next morning's 08:00 Berlin = 07:00 UTC
    assert table.next_boundary(pendulum.datetime(2026, 12, 7, 20, tz="UTC")) == pendulum.datetime(
        2026, 12, 8, 7, tz="UTC"
    )
    # with catchup off it never replays a start that passed: the next one from now
    info = table.next_dagrun_info(
        last_automated_data_interval=DataInterval.exact(pendulum.datetime(2020, 1, 1, tz="UTC")),
        restriction=TimeRestriction(earliest=pendulum.datetime(2020, 1, 1, tz="UTC"), latest=None, catchup=False),
    )
    assert pendulum.now("UTC") < info.run_after <= pendulum.now("UTC").add(days=1)
    assert info.run_after == table.next_boundary(pendulum.now("UTC"))


def test_priority_weights_follow_the_window_of_the_dags_project(monkeypatch, postgres_project_copy: Path) -> None:
    from airflow_provider_dualengine.resources.priority import DbtWindowPriority, SQLMeshWindowPriority, window_boost

    monkeypatch.setenv("AIRFLOW__DUALENGINE__PROJECTS", f"/nonexistent/elsewhere,{postgres_project_copy}")
    assert window_boost("shop", "dbt", NOON) == PRIORITY_BOOST and window_boost("shop", "sqlmesh", NOON) == 0
    assert window_boost("shop", "sqlmesh", NIGHT) == PRIORITY_BOOST
    assert window_boost("other_project", "dbt", NOON) == 0

    def ti(tags: list[str]) -> SimpleNamespace:
        return SimpleNamespace(task_id="t", task=SimpleNamespace(priority_weight=3, dag=SimpleNamespace(tags=tags)))

    boosted = SQLMeshWindowPriority().get_weight(
        ti(["dualengine", "dualengine:shop"])
    ) + DbtWindowPriority().get_weight(ti(["dualengine", "dualengine:shop"]))
    assert boosted == 3 + 3 + PRIORITY_BOOST  # exactly one engine has priority now
    assert DbtWindowPriority().get_weight(ti(["dualengine"])) == 3  # no project tag: the task's own weight
    (postgres_project_copy / "config" / "resources.yml").write_text("execution_schedule: [broken")
    assert DbtWindowPriority().get_weight(ti(["dualengine:shop"])) == 3  # unreadable: never breaks the scheduler


def test_the_gate_defers_a_scheduled_run_until_the_window_ends_and_lets_manual_runs_pass(
    postgres_project_copy: Path, monkeypatch
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from airflow_provider_dualengine.operators.window_gate import ExecutionWindowGateOperator

    now = pendulum.now("UTC")
    # dbt is maintenance_only from now until the next full hour (the window under test), free after
    until = now.start_of("hour").add(hours=1)
    (postgres_project_copy / "config" / "resources.yml").write_text(
        f'execution_schedule:\n  timezone: UTC\n  a_hours: "{now.start_of("hour"):%H:%M}-{until:%H:%M}"\n'
        f'  b_hours: "{until:%H:%M}-{now.start_of("hour"):%H:%M}"\n'
        "  scheduling_rules:\n    a_hours: {dbt_execution: maintenance_only}\n    b_hours: {sqlmesh_execution: limited}\n"
    )
    gate = ExecutionWindowGateOperator(
        task_id="window_gate", project_dir=str(postgres_project_copy), environment="development", engine="dbt"
    )
    scheduled = {"dag_run": SimpleNamespace(run_type="scheduled")}
    with pytest.raises(TaskDeferred) as deferred:
        gate.execute(scheduled)
    assert deferred.value.trigger.moment == until  # the end of the window that holds dbt
    assert deferred.value.method_name == "resume"
    manual = gate.execute({"dag_run": SimpleNamespace(run_type="manual")})
    assert manual["run_type"] == "manual" and manual["execution"] == "maintenance_only" and manual["waited_s"] == 0
    # SQLMesh is never held here
    sqlmesh_gate = ExecutionWindowGateOperator(
        task_id="g", project_dir=str(postgres_project_copy), environment="development", engine="sqlmesh"
    )
    assert sqlmesh_gate.execute(scheduled)["execution"] in ("full", "limited")


def test_slots_split_by_largest_remainder_and_each_environment_keeps_its_own(postgres_project_copy: Path) -> None:
    from airflow_provider_dualengine.resources.allocation import split_slots

    assert split_slots(10, {"dbt": 70, "sqlmesh": 30}) == {"dbt": 7, "sqlmesh": 3}
    assert sum(split_slots(10, {"dbt": 75, "sqlmesh": 25}).values()) == 10  # 7.5 + 2.5: none lost
    assert split_slots(1, {"dbt": 70, "sqlmesh": 30}) == {"dbt": 1, "sqlmesh": 1}  # never a zero-slot pool
    project = load_project(postgres_project_copy)
    # development's own slots (sqlmesh 2 + dbt threads 2) are split, not the shared warehouse's 10
    dev = allocations(project, "development", NOON)
    assert (dev["dbt"].slots, dev["sqlmesh"].slots) == (3, 1)
    assert dev["dbt"].slots_source.startswith("70% of 4 warehouse slots (both engines' slots in development together")


def test_an_environment_without_an_allocation_gets_no_pool_even_with_window_shares(postgres_project_copy: Path) -> None:
    path = postgres_project_copy / "config" / "resources.yml"
    path.write_text(
        path.read_text().replace(
            "  dbt_resources:\n    development:\n      threads: 2\n      warehouse_size: x-small\n",
            "  dbt_resources:\n",
        )
    )
    found = allocations(load_project(postgres_project_copy), "development", NOON)
    assert found["dbt"].pool is None and found["dbt"].slots is None  # its tasks stay in default_pool
    assert found["sqlmesh"].pool == "dualengine_shop_development_sqlmesh"


def test_only_manual_runs_and_backfills_pass_a_maintenance_only_window(postgres_project_copy: Path) -> None:
    night = allocations(load_project(postgres_project_copy), "development", NIGHT)["dbt"]
    for held in ("scheduled", "asset_triggered", "operator_triggered", "asset_materialization"):
        assert holds_scheduled_work(night, held), held
    assert not holds_scheduled_work(night, "manual") and not holds_scheduled_work(night, "backfill")


@pytest.mark.parametrize(
    ("after_utc", "expected_local"),
    [
        # autumn change day in Berlin: 08:00 local is 07:00 UTC (not 06:00 or 08:00)
        (pendulum.datetime(2026, 10, 25, 4, 30, tz="UTC"), pendulum.datetime(2026, 10, 25, 8, tz="Europe/Berlin")),
        # spring change day: 08:00 local is 06:00 UTC
        (pendulum.datetime(2026, 3, 29, 1, 30, tz="UTC"), pendulum.datetime(2026, 3, 29, 8, tz="Europe/Berlin")),
        (pendulum.datetime(2026, 3, 29, 7, tz="UTC"), pendulum.datetime(2026, 3, 29, 18, tz="Europe/Berlin")),
    ],
)
def test_window_starts_keep_their_clock_time_on_dst_change_days(after_utc, expected_local) -> None:
    table = WindowBoundariesTimetable("Europe/Berlin", [8 * 3600, 18 * 3600])
    assert table.next_boundary(after_utc) == expected_local
    assert table.next_boundary(after_utc).in_timezone("Europe/Berlin").hour == expected_local.hour
