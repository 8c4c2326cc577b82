"""config/monitoring.yml: the example file loads, a project without it prices nothing, and
every broken setting is one issue naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config import DualEngineConfigError, load_project
from airflow_provider_dualengine.config.monitoring import (
    MonitoringSpec,
    load_monitoring,
    monitoring_file,
    read_monitoring,
)
from tests.conftest import EXAMPLE_PROJECT

ENVIRONMENTS = {"development", "production"}


def _issues(tmp_path: Path, text: str) -> list:
    path = tmp_path / "monitoring.yml"
    path.write_text(text)
    with pytest.raises(DualEngineConfigError) as info:
        read_monitoring(path, ENVIRONMENTS)
    assert all(issue.file == path for issue in info.value.issues)
    return info.value.issues


def test_example_project_file_loads_with_the_seeds_words() -> None:
    project = load_project(EXAMPLE_PROJECT)
    assert monitoring_file(project) == EXAMPLE_PROJECT.resolve() / "config" / "monitoring.yml"
    spec = load_monitoring(project)
    cost = spec.cost
    assert (cost.currency, cost.billing) == ("USD", "compute_time")
    assert cost.price_per_hour == {"x-small": 1.0, "small": 2.0, "medium": 4.0, "large": 8.0}
    assert cost.size("sqlmesh", "production") == "large"
    assert cost.size("dbt", "development") == "x-small"
    staging = cost.shared_resources["staging_warehouse"]
    assert (staging.used_by, staging.monthly_cost, staging.cost_allocation) == (
        ["sqlmesh", "dbt"],
        50.0,
        "proportional",
    )
    assert (spec.budgets.monthly, spec.budgets.per_engine) == (500.0, {"sqlmesh": 300.0, "dbt": 200.0})
    assert spec.alerts == []
    assert cost.configured


def test_no_file_means_nothing_is_priced(tmp_path: Path) -> None:
    project = load_project(EXAMPLE_PROJECT)
    project.files["monitoring"] = tmp_path / "absent.yml"  # as if the project had none
    spec = load_monitoring(project)
    assert spec.cost.price_per_hour == {} and spec.cost.price_per_tb is None
    assert not spec.cost.configured
    # the sizes are resources.yml's (where the seed declares them); without prices they cost nothing
    assert spec.cost.size("sqlmesh", "production") == "large"
    assert spec.model_copy(update={"cost": MonitoringSpec().cost}) == MonitoringSpec()


def test_a_size_given_in_both_files_differently_is_an_error(tmp_path: Path) -> None:
    project = load_project(EXAMPLE_PROJECT)
    path = tmp_path / "monitoring.yml"
    path.write_text(
        "cost:\n  price_per_hour: {small: 1.0, large: 2.0}\n  warehouse_size:\n    sqlmesh: {production: small}\n"
    )
    project.files["monitoring"] = path
    with pytest.raises(DualEngineConfigError) as info:
        load_monitoring(project)
    [issue] = info.value.issues
    assert issue.file == path and issue.key == "cost.warehouse_size.sqlmesh.production"
    assert "'small' here, but 'large' in" in issue.message and "resources.yml" in issue.message


def test_a_file_of_comments_only_is_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yml"
    path.write_text("# nothing yet\n")
    assert read_monitoring(path) == MonitoringSpec()


def test_alerts_are_kept_as_written(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.yml"
    path.write_text("alerts:\n  - name: cost_anomaly_detection\n    condition: daily_cost > 1.5 * baseline\n")
    assert read_monitoring(path).alerts == [
        {"name": "cost_anomaly_detection", "condition": "daily_cost > 1.5 * baseline"}
    ]
    (issue,) = _issues(tmp_path, "alerts: {name: x}\n")
    assert (issue.key, issue.message) == ("alerts", "expected a list, found a mapping")


def test_unknown_key(tmp_path: Path) -> None:
    (issue,) = _issues(tmp_path, "cost:\n  currency: USD\n  price_per_hours: {small: 2.0}\n")
    assert issue.key == "cost.price_per_hours"
    assert "Extra inputs are not permitted" in issue.message
    assert issue.hint == "remove the key or check its spelling"


def test_warehouse_size_without_a_price(tmp_path: Path) -> None:
    (issue,) = _issues(
        tmp_path,
        "cost:\n  price_per_hour: {small: 2.0, large: 8.0}\n  warehouse_size:\n    dbt: {production: medium}\n",
    )
    assert issue.key == "cost.warehouse_size.dbt.production"
    assert issue.message == "warehouse size 'medium' has no price in cost.price_per_hour (sizes priced: large, small)"
    assert "add `medium: <USD per compute-hour>` under cost.price_per_hour" in issue.hint


def test_unknown_engine(tmp_path: Path) -> None:
    (issue,) = _issues(
        tmp_path, "cost:\n  price_per_hour: {small: 2.0}\n  warehouse_size:\n    spark: {development: small}\n"
    )
    assert issue.key == "cost.warehouse_size.spark"
    assert "'sqlmesh' or 'dbt'" in issue.message
    assert issue.hint == "name an engine: sqlmesh or dbt"
    (issue,) = _issues(tmp_path, "cost:\n  shared_resources:\n    wh: {used_by: [sqlmesh, spark], monthly_cost: 1}\n")
    assert issue.key == "cost.shared_resources.wh.used_by[1]"
    assert issue.hint == "name an engine: sqlmesh or dbt"


def test_unknown_environment(tmp_path: Path) -> None:
    (issue,) = _issues(
        tmp_path, "cost:\n  price_per_hour: {small: 2.0}\n  warehouse_size:\n    sqlmesh: {staging: small}\n"
    )
    assert (issue.key, issue.message) == ("cost.warehouse_size.sqlmesh.staging", "unknown environment 'staging'")
    assert issue.hint == "use one of the project's environments: development, production"


def test_negative_prices_and_budgets(tmp_path: Path) -> None:
    issues = _issues(
        tmp_path,
        "cost:\n  price_per_hour: {small: -2.0}\n  price_per_tb: -1\n"
        "  shared_resources:\n    wh: {used_by: [dbt], monthly_cost: -50}\nbudgets:\n  per_engine: {dbt: -1}\n",
    )
    assert [i.key for i in issues] == [
        "cost.price_per_hour.small",
        "cost.price_per_tb",
        "cost.shared_resources.wh.monthly_cost",
        "budgets.per_engine.dbt",
    ]
    assert all("greater than or equal to 0" in i.message for i in issues)
    assert all(i.hint == "use an amount of 0 or more (in the file's currency)" for i in issues)


def test_bytes_scanned_needs_a_price_per_tb(tmp_path: Path) -> None:
    (issue,) = _issues(tmp_path, "cost:\n  billing: bytes_scanned\n")
    assert (issue.key, issue.message) == ("cost.price_per_tb", "billing is bytes_scanned but no price per TB is set")
    assert "price_per_tb" in issue.hint
    (issue,) = _issues(tmp_path, "cost:\n  billing: per_query\n")
    assert issue.key == "cost.billing"
    assert "'compute_time' or 'bytes_scanned'" in issue.message


def test_engine_listed_twice_and_bad_allocation(tmp_path: Path) -> None:
    (issue,) = _issues(tmp_path, "cost:\n  shared_resources:\n    wh: {used_by: [dbt, dbt], monthly_cost: 1}\n")
    assert (issue.key, issue.message) == ("cost.shared_resources.wh.used_by", "an engine is listed twice")
    (issue,) = _issues(
        tmp_path, "cost:\n  shared_resources:\n    wh: {used_by: [dbt], monthly_cost: 1, cost_allocation: by_rows}\n"
    )
    assert issue.key == "cost.shared_resources.wh.cost_allocation"
    assert "'proportional' or 'equal'" in issue.message


def test_currency_and_yaml_errors_name_the_line(tmp_path: Path) -> None:
    (issue,) = _issues(tmp_path, "cost:\n  currency: dollars\n")
    assert issue.key == "cost.currency"
    assert issue.hint == "use a three-letter currency code, e.g. USD or EUR"
    (issue,) = _issues(tmp_path, "cost:\n  currency: USD\n  currency: EUR\n")
    assert issue.key == "line 3"
    assert "duplicate key 'currency'" in issue.message
