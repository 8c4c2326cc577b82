"""`shared/tests/*.yml`: the example's checks load; each mistake is one issue at its file and key."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_provider_dualengine.config.cross_engine_checks import (
    KeysMatch,
    RowCountMatch,
    SqlCheck,
    load_cross_engine_checks,
)
from airflow_provider_dualengine.config.errors import DualEngineConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "transforms"


def _project(root: Path) -> SimpleNamespace:
    return SimpleNamespace(root=root)


def _write(root: Path, name: str, text: str) -> Path:
    folder = root / "shared" / "tests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _issues(root: Path) -> list[str]:
    with pytest.raises(DualEngineConfigError) as caught:
        load_cross_engine_checks(_project(root))  # type: ignore[arg-type]
    return [i.render() for i in caught.value.issues]


def test_the_example_checks_load_with_their_types_and_models() -> None:
    checks = load_cross_engine_checks(_project(EXAMPLE))  # type: ignore[arg-type]
    by_name = {c.spec.name: c.spec for c in checks}
    keys = by_name["every_customer_lifetime_has_a_value_band"]
    assert isinstance(keys, KeysMatch) and keys.key == ["customer_id"] and keys.direction == "both"
    assert isinstance(by_name["customer_value_keeps_one_row_per_lifetime"], RowCountMatch)
    summary = by_name["value_band_summary_adds_up_to_customer_value"]
    assert isinstance(summary, SqlCheck)
    assert summary.models() == ["sqlmesh:reporting.value_band_summary", "dbt:customer_value"]
    assert [c.key for c in checks] == ["checks[0]", "checks[1]", "checks[2]", "checks[3]"]


def test_no_folder_means_no_checks(tmp_path: Path) -> None:
    assert load_cross_engine_checks(_project(tmp_path)) == []  # type: ignore[arg-type]


def test_a_single_key_column_may_be_written_as_text(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", "checks:\n  - {name: k, type: keys_match, left: a, right: b, key: id}\n")
    [check] = load_cross_engine_checks(_project(tmp_path))  # type: ignore[arg-type]
    assert check.spec.key == ["id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "checks:\n  - {name: k, type: keys_match, left: a, right: b}\n",
            "a.yml: checks[0].keys_match.key: Field required",
        ),
        (
            "checks:\n  - {name: s, type: sql, sql: 'select 1'}\n",
            "a.yml: checks[0].sql.sql: the query names no model: write tables as {{ model('engine:name') }}",
        ),
        (
            "checks:\n  - {name: r, type: row_count_match, left: a, right: 'b; drop table x'}\n",
            "a.yml: checks[0].row_count_match.right: String should match pattern",
        ),
        (
            "checks:\n  - {name: k, type: keys_match, left: a, right: b, key: ['id; --']}\n",
            "a.yml: checks[0].keys_match.key[0]: String should match pattern",
        ),
        (
            "checks:\n  - {name: r, type: row_count_match, left: a, right: b, tolerance: -1}\n",
            "a.yml: checks[0].row_count_match.tolerance: Input should be greater than or equal to 0",
        ),
        ("checks: [\n", "a.yml: line 2, column 1: invalid YAML"),
    ],
)
def test_each_mistake_is_reported_at_its_key(tmp_path: Path, text: str, expected: str) -> None:
    _write(tmp_path, "a.yml", text)
    [issue] = _issues(tmp_path)
    assert expected in issue, issue


def test_a_name_used_in_two_files_is_an_error_naming_both(tmp_path: Path) -> None:
    _write(tmp_path, "a.yml", "checks:\n  - {name: same, type: row_count_match, left: a, right: b}\n")
    _write(tmp_path, "b.yml", "checks:\n  - {name: same, type: row_count_match, left: b, right: a}\n")
    [issue] = _issues(tmp_path)
    assert "b.yml: checks[0].name: check 'same' is also defined in a.yml (checks[0])" in issue
    assert "fix: give each check its own name" in issue
