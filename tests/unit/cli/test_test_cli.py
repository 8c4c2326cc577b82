"""`dualengine test` when the project does not load: a clear error, and still a JUnit file
saying why (a CI system shows that instead of a missing report)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from airflow_provider_dualengine.cli.main import main


def test_a_broken_check_file_fails_with_its_key_in_the_junit_report(
    project_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checks = project_copy / "shared" / "tests" / "cross_engine_checks.yml"
    checks.write_text(checks.read_text().replace("type: row_count_match", "type: row_count", 1))
    junit = tmp_path / "ci" / "results.xml"
    log = tmp_path / "engines.log"

    code = main(["test", str(project_copy), "--junit", str(junit), "--log-file", str(log)])

    err = capsys.readouterr().err
    assert code == 1
    assert f"{checks}: checks[1]: Input tag 'row_count' found using 'type'" in err
    assert f"engine logs: {log}" in err
    [case] = ET.parse(junit).getroot().iter("testcase")
    assert case.get("name") == "project configuration 1: cross_engine_checks.yml: checks[1]"
    [failure] = case.findall("failure")
    assert "fix: see docs/testing.md" in (failure.text or "")


def test_a_postgres_project_is_refused_before_anything_runs(
    postgres_project_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(postgres_project_copy)]) == 1
    err = capsys.readouterr().err
    assert (
        "warehouse.type: dualengine test builds in a throwaway DuckDB file; this project's warehouse is postgres" in err
    )


@pytest.mark.parametrize("value", ["0", "-1"])
def test_max_slowdown_must_be_above_zero(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["test", "transforms", "--max-slowdown", value])
    assert exit_.value.code == 2
    assert f"must be a number above 0, not {value}" in capsys.readouterr().err
