"""config/resources.yml: the example in the seed's shape loads; windows cover the day once
(time zones, midnight, seconds); every mistake is one issue naming file, key and fix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pendulum
import pytest

from airflow_provider_dualengine.config import DualEngineConfigError, load_project
from airflow_provider_dualengine.config.resources import (
    load_resources,
    parse_range,
    parse_shares,
    parse_time_of_day,
    read_resources,
)
from tests.conftest import EXAMPLE_PROJECT

ENVIRONMENTS = {"development", "production"}


def _issues(tmp_path: Path, text: str, warehouse: str = "duckdb") -> list:
    path = tmp_path / "resources.yml"
    path.write_text(text)
    with pytest.raises(DualEngineConfigError) as info:
        read_resources(path, ENVIRONMENTS, warehouse)
    assert all(issue.file == path for issue in info.value.issues)
    return info.value.issues


def _schedule(windows: str, rules: str = "") -> str:
    return f"execution_schedule:\n  timezone: UTC\n{windows}" + (f"  scheduling_rules:\n{rules}" if rules else "")


def test_the_example_file_loads_in_the_seeds_shape() -> None:
    spec = load_resources(load_project(EXAMPLE_PROJECT))
    alloc = spec.resource_allocation
    assert alloc.engine("sqlmesh", "production").max_concurrent_queries == 10
    assert alloc.engine("dbt", "production").threads == 8
    assert alloc.coordinated().used_by == ["sqlmesh", "dbt"]
    schedule = spec.execution_schedule
    assert [(w.name, w.start_s, w.end_s) for w in schedule.windows()] == [
        ("peak_hours", 8 * 3600, 18 * 3600),
        ("off_peak_hours", 18 * 3600, 8 * 3600),
    ]
    peak = schedule.window_at(datetime(2026, 12, 7, 12, tzinfo=UTC))
    assert (peak.name, peak.rules.priority_engine, peak.rules.shares()) == (
        "peak_hours",
        "dbt",
        {"dbt": 70, "sqlmesh": 30},
    )
    night = schedule.window_at(datetime(2026, 12, 7, 2, tzinfo=UTC))
    assert (night.name, night.rules.execution("dbt"), night.rules.execution("sqlmesh")) == (
        "off_peak_hours",
        "maintenance_only",
        "full",
    )


def test_no_file_limits_nothing(tmp_path: Path) -> None:
    project = load_project(EXAMPLE_PROJECT)
    project.files["resources"] = tmp_path / "absent.yml"
    spec = load_resources(project)
    assert spec.execution_schedule is None and spec.resource_allocation.sqlmesh_resources == {}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("8am", 8 * 3600),
        ("12am", 0),
        ("12pm", 12 * 3600),
        ("6pm", 18 * 3600),
        ("18:30", 18 * 3600 + 1800),
        ("07:05:09", 7 * 3600 + 309),
        ("24:00", 86400),
    ],
)
def test_times_of_day(text: str, seconds: int) -> None:
    assert parse_time_of_day(text) == seconds


@pytest.mark.parametrize("text", ["13pm", "25:00", "8:61", "noon", "0am", "24:01"])
def test_bad_times_of_day_say_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="time of day|1-12"):
        parse_time_of_day(text)


def test_ranges_and_shares() -> None:
    assert parse_range("6pm-8am") == (18 * 3600, 8 * 3600)
    assert parse_range("00:00-24:00") == (0, 86400)
    with pytest.raises(ValueError, match="starts where it ends"):
        parse_range("8am-08:00")
    assert parse_shares("70% dbt, 30% sqlmesh") == {"dbt": 70, "sqlmesh": 30}
    with pytest.raises(ValueError, match="add up to 90%"):
        parse_shares("60% dbt, 30% sqlmesh")
    with pytest.raises(ValueError, match="two shares"):
        parse_shares("50% dbt, 50% dbt")


def test_windows_crossing_midnight_in_a_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "resources.yml"
    path.write_text(
        'execution_schedule:\n  timezone: Europe/Berlin\n  day_hours: "7am-10pm"\n  night_hours: "10pm-7am"\n'
    )
    schedule = read_resources(path, ENVIRONMENTS).execution_schedule
    # 22:30 UTC is 23:30 in Berlin in winter: night; 06:30 UTC is 07:30 there: day
    assert schedule.window_at(datetime(2026, 12, 7, 22, 30, tzinfo=UTC)).name == "night_hours"
    assert schedule.window_at(datetime(2026, 12, 8, 6, 30, tzinfo=UTC)).name == "day_hours"
    # the next start after 23:30 Berlin is 07:00 Berlin the next day (06:00 UTC)
    nxt = schedule.next_boundary(pendulum.datetime(2026, 12, 7, 22, 30, tz="UTC"))
    assert nxt.in_timezone("UTC") == pendulum.datetime(2026, 12, 8, 6, 0, tz="UTC")
    # summer time: 07:00 Berlin is 05:00 UTC
    assert schedule.next_boundary(pendulum.datetime(2026, 7, 1, 3, tz="UTC")).in_timezone("UTC").hour == 5


def test_overlapping_windows_are_an_error_naming_both(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, _schedule('  peak_hours: "8am-6pm"\n  off_peak_hours: "5pm-8am"\n'))
    assert issue.key == "execution_schedule"
    assert "overlaps" in issue.message and "peak_hours (08:00-18:00)" in issue.message
    assert "off_peak_hours (17:00-08:00)" in issue.message and "exactly once" in issue.message


def test_a_gap_between_windows_is_an_error(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, _schedule('  peak_hours: "8am-6pm"\n  off_peak_hours: "7pm-8am"\n'))
    assert "leaves a gap before" in issue.message and "off_peak_hours (19:00-08:00)" in issue.message


def test_rules_for_a_window_that_does_not_exist(tmp_path: Path) -> None:
    [issue] = _issues(
        tmp_path,
        _schedule('  all_hours: "00:00-24:00"\n', "    peak_hours: {priority: dbt_models}\n"),
    )
    assert "scheduling_rules.peak_hours names no window (windows: all_hours)" in issue.message


@pytest.mark.parametrize(
    ("rules", "key", "fragment"),
    [
        ("{resource_allocation: '70% dbt, 20% sqlmesh'}", "resource_allocation", "add up to 90%"),
        ("{resource_allocation: '100% dbt'}", "resource_allocation", "a share for each engine"),
        ("{dbt_execution: sometimes}", "dbt_execution", "'full', 'limited' or 'maintenance_only'"),
        (
            "{dbt_execution: maintenance_only, sqlmesh_execution: maintenance_only}",
            "",
            "both engines are maintenance_only",
        ),
        ("{priority: fastest}", "priority", "'sqlmesh_models' or 'dbt_models'"),
    ],
)
def test_bad_rules_name_the_key(tmp_path: Path, rules: str, key: str, fragment: str) -> None:
    issues = _issues(tmp_path, _schedule('  all_hours: "00:00-24:00"\n', f"    all_hours: {rules}\n"))
    assert any(
        fragment in i.message and i.key.startswith("execution_schedule.scheduling_rules.all_hours") for i in issues
    ), issues
    if key:
        assert any(i.key.endswith(key) for i in issues), issues


def test_unknown_time_zone(tmp_path: Path) -> None:
    [issue] = _issues(tmp_path, 'execution_schedule:\n  timezone: Mars/Olympus\n  all_hours: "00:00-24:00"\n')
    assert issue.key == "execution_schedule.timezone" and "unknown time zone 'Mars/Olympus'" in issue.message


def test_session_settings_are_the_warehouses_own(tmp_path: Path) -> None:
    text = (
        "resource_allocation:\n  sqlmesh_resources:\n    development: {session: {work_mem: 64MB, memory_limit: 1GB}}\n"
    )
    [issue] = _issues(tmp_path, text, warehouse="postgres")
    assert issue.key == "resource_allocation.sqlmesh_resources.development.session.memory_limit"
    assert "not a session setting this provider applies on postgres" in issue.message
    assert "work_mem, statement_timeout" in issue.hint
    [issue] = _issues(tmp_path, text, warehouse="duckdb")
    assert issue.key.endswith("session.work_mem") and "threads, memory_limit" in issue.hint


def test_a_session_value_cannot_carry_sql_or_options(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        'resource_allocation:\n  dbt_resources:\n    development: {session: {work_mem: "1MB -c role=admin\'"}}\n',
        warehouse="postgres",
    )
    assert any("not a plain value" in i.message for i in issues), issues


def test_engine_settings_belong_to_their_engine_and_environments_exist(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        "resource_allocation:\n  sqlmesh_resources:\n    staging: {threads: 4}\n  dbt_resources:\n    development: {concurrent_tasks: 2}\n",
    )
    found = {(i.key, i.message) for i in issues}
    assert ("resource_allocation.sqlmesh_resources.staging", "unknown environment 'staging'") in found
    assert ("resource_allocation.sqlmesh_resources.staging.threads", "threads is not a sqlmesh setting") in found
    assert (
        "resource_allocation.dbt_resources.development.concurrent_tasks",
        "concurrent_tasks is not a dbt setting",
    ) in found


def test_an_engine_maintenance_only_in_every_window_would_wait_forever(tmp_path: Path) -> None:
    [issue] = _issues(
        tmp_path,
        _schedule(
            '  a_hours: "00:00-12:00"\n  b_hours: "12:00-24:00"\n',
            "    a_hours: {dbt_execution: maintenance_only}\n    b_hours: {dbt_execution: maintenance_only}\n",
        ),
    )
    assert "dbt is maintenance_only in every window" in issue.message and "wait forever" in issue.message


def test_a_limited_engine_cannot_have_priority(tmp_path: Path) -> None:
    [issue] = _issues(
        tmp_path,
        _schedule(
            '  all_hours: "00:00-24:00"\n', "    all_hours: {priority: sqlmesh_models, sqlmesh_execution: limited}\n"
        ),
    )
    assert "a limited engine never has priority" in issue.message


def test_sqlmesh_concurrent_tasks_above_one_on_duckdb_is_refused(tmp_path: Path) -> None:
    text = "resource_allocation:\n  sqlmesh_resources:\n    production: {concurrent_tasks: 4}\n"
    [issue] = _issues(tmp_path, text, warehouse="duckdb")
    assert issue.key == "resource_allocation.sqlmesh_resources.production.concurrent_tasks"
    assert "one model at a time" in issue.message and "session.threads" in issue.hint
    path = tmp_path / "pg.yml"
    path.write_text(text)
    assert (
        read_resources(path, ENVIRONMENTS, "postgres")
        .resource_allocation.engine("sqlmesh", "production")
        .concurrent_tasks
        == 4
    )
