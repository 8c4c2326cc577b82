"""config/engine_selection_rules.yml (config/engine_selection.py): the seed's shape loads,
every key is optional, and each broken file names the file, the key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.engine_selection import (
    load_engine_selection,
    parse_availability_threshold,
    read_engine_selection,
)
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from tests.conftest import EXAMPLE_PROJECT

SEED = """\
engine_selection:
  default_engine: dbt
  sqlmesh_conditions:
    cost_threshold:
      monthly_cost_usd: 1000
      execution_time_minutes: 30
    complexity_indicators:
      python_required: true
      complex_window_functions: true
      ml_model_integration: true
    reliability_requirements:
      zero_downtime_deployment: true
      sla_availability: "> 99.9%"
  override_rules:
    force_sqlmesh:
      models: ["customer_scoring", "fraud_detection"]
      reason: "Business critical, performance sensitive"
    force_dbt:
      models: ["simple_reporting.*", "bi_mart.*"]
      reason: "BI tool integration, rapid iteration"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "engine_selection_rules.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _issues(path: Path) -> list[tuple[Path | None, str, str, str]]:
    with pytest.raises(DualEngineConfigError) as caught:
        read_engine_selection(path)
    return [(i.file, i.key, i.message, i.hint) for i in caught.value.issues]


def test_the_seed_file_loads_as_written(tmp_path: Path) -> None:
    spec = read_engine_selection(_write(tmp_path, SEED)).engine_selection

    assert spec.default_engine == "dbt"
    assert spec.mismatch == "warning"
    assert spec.sqlmesh_conditions.cost_threshold.monthly_cost_usd == 1000
    assert spec.sqlmesh_conditions.reliability_requirements.sla_availability == "> 99.9%"
    assert spec.override_rules.force_dbt is not None
    assert spec.override_rules.force_dbt.models == ["simple_reporting.*", "bi_mart.*"]
    # Keys the seed does not write are off.
    assert spec.sqlmesh_conditions.complexity_indicators.complexity_score is None
    assert spec.dbt_conditions.model_dump() == {
        "monthly_cost_usd_below": None,
        "simple_transformations": False,
        "rapid_iteration_needed": False,
        "existing_dbt_model": False,
        "bi_tool_dependency": False,
    }
    assert spec.declared == []


def test_only_the_default_engine_is_required(tmp_path: Path) -> None:
    spec = read_engine_selection(_write(tmp_path, "engine_selection:\n  default_engine: sqlmesh\n"))

    assert spec.engine_selection.default_engine == "sqlmesh"
    assert spec.engine_selection.override_rules.force_sqlmesh is None


def test_the_example_file_loads() -> None:
    spec = read_engine_selection(EXAMPLE_PROJECT / "config" / "engine_selection_rules.yml").engine_selection

    assert spec.default_engine == "dbt"
    assert spec.override_rules.force_sqlmesh is not None
    assert spec.override_rules.force_dbt is None
    assert spec.declared == []


def test_no_file_is_no_rules(tmp_path: Path) -> None:
    class _Project:
        root = tmp_path
        files: dict[str, Path] = {}

    assert load_engine_selection(_Project()) is None  # type: ignore[arg-type]


def test_an_unknown_key_is_named_with_its_path(tmp_path: Path) -> None:
    text = SEED.replace("      python_required: true", "      python_requred: true")
    path = _write(tmp_path, text)

    assert _issues(path) == [
        (
            path,
            "engine_selection.sqlmesh_conditions.complexity_indicators.python_requred",
            "Extra inputs are not permitted",
            "remove the key or check its spelling (the keys are listed in docs/engine-selection.md)",
        )
    ]


def test_an_override_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED.replace('      reason: "BI tool integration, rapid iteration"\n', ""))

    [(file, key, message, hint)] = _issues(path)
    assert (file, key, message) == (path, "engine_selection.override_rules.force_dbt.reason", "Field required")
    assert hint.startswith("say why these models must run on that engine")


def test_an_empty_reason_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, SEED.replace('reason: "Business critical, performance sensitive"', 'reason: "  "'))

    [(file, key, message, hint)] = _issues(path)
    assert (file, key) == (path, "engine_selection.override_rules.force_sqlmesh.reason")
    assert message == "String should have at least 1 character"
    assert hint.startswith("say why these models must run on that engine")


def test_the_same_glob_in_both_force_lists_is_a_conflict(tmp_path: Path) -> None:
    path = _write(
        tmp_path, SEED.replace('["simple_reporting.*", "bi_mart.*"]', '["simple_reporting.*", "fraud_detection"]')
    )

    assert _issues(path) == [
        (
            path,
            "engine_selection.override_rules",
            "'fraud_detection' is in both force_sqlmesh and force_dbt",
            "keep it in the list of the engine it must run on",
        )
    ]


@pytest.mark.parametrize("value", ['"99.9%"', '"< 99.9%"', '"> 101%"', '"high"', "99.9"])
def test_an_availability_threshold_needs_a_direction_and_a_percentage(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, SEED.replace('sla_availability: "> 99.9%"', f"sla_availability: {value}"))

    [(file, key, message, hint)] = _issues(path)
    assert (file, key) == (path, "engine_selection.sqlmesh_conditions.reliability_requirements.sla_availability")
    assert hint == "write a direction and a percentage: '> 99.9%' or '>= 99.5%' (quote it)"
    if value != "99.9":  # a number is refused for its type
        assert "is not an availability threshold like '> 99.9%' or '>= 99.5%'" in message


def test_availability_thresholds_parse() -> None:
    assert parse_availability_threshold("> 99.9%") == (">", 99.9)
    assert parse_availability_threshold(">=99.5 %") == (">=", 99.5)


def test_a_bad_glob_and_a_bad_engine_are_named(tmp_path: Path) -> None:
    text = SEED.replace("default_engine: dbt", "default_engine: spark").replace('"bi_mart.*"', '"bi mart"')
    path = _write(tmp_path, text)

    issues = _issues(path)
    assert [(k, h) for _, k, _, h in issues] == [
        ("engine_selection.default_engine", "use one of the allowed values"),
        (
            "engine_selection.override_rules.force_dbt.models[1]",
            "a model name or glob: `customer_scoring`, `fraud_*`, `reporting.*`, `dbt:stg_*`, `sqlmesh:raw.*`",
        ),
    ]
    assert issues[0][2] == "Input should be 'sqlmesh' or 'dbt'"


def test_declared_values_are_checked(tmp_path: Path) -> None:
    text = (
        SEED
        + "  declared:\n    - models: [fraud_*]\n      monthly_cost_usd: -5\n      zero_downtime_required: yes please\n"
    )
    path = _write(tmp_path, text)

    assert [(k, m) for _, k, m, _ in _issues(path)] == [
        ("engine_selection.declared[0].monthly_cost_usd", "Input should be greater than or equal to 0"),
        ("engine_selection.declared[0].zero_downtime_required", "Input should be a valid boolean"),
    ]


def test_a_missing_document_key_says_what_to_write(tmp_path: Path) -> None:
    path = _write(tmp_path, "default_engine: dbt\n")

    issues = _issues(path)
    assert [(k, m) for _, k, m, _ in issues] == [
        ("engine_selection", "Field required"),
        ("default_engine", "Extra inputs are not permitted"),
    ]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "engine_selection:\n  default_engine: dbt\n  default_engine: sqlmesh\n")

    [(file, key, message, _)] = _issues(path)
    assert (file, key) == (path, "line 3")
    assert message.startswith("duplicate key 'default_engine'")
