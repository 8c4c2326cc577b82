"""The report: the summary names failing models, JUnit has a suite per category."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from airflow_provider_dualengine.testing import results
from airflow_provider_dualengine.testing.results import Case, write_junit


def _report() -> results.TestReport:
    report = results.TestReport("/repo/transforms", "development", "a throwaway DuckDB file")
    report.selection = {
        "since": "HEAD~1",
        "changed": ["sqlmesh:a.x"],
        "reasons": ["sqlmesh:a.x: SQLMesh fingerprint changed"],
        "tested": ["dbt:y", "sqlmesh:a.x"],
        "inputs": ["sqlmesh:a.raw"],
        "skipped": ["dbt:z"],
    }
    report.add(
        [
            Case("engine_tests", "build sqlmesh:a.x", "passed", models=("sqlmesh:a.x",), seconds=0.5),
            Case("engine_tests", "build dbt:y", "failed", "Binder Error: no column v\nLINE 3", ("dbt:y",)),
            Case(
                "schema_compatibility",
                "contract x.yml",
                "failed",
                "column v missing",
                ("sqlmesh:a.x", "dbt:y"),
                "shared/schemas/x.yml",
            ),
            Case("performance_regression", "model times against run history", "skipped", "no run history"),
        ]
    )
    return report


def test_the_summary_lists_selection_failures_skips_and_the_failing_models() -> None:
    text = _report().render()
    assert "changed since HEAD~1: sqlmesh:a.x\n  sqlmesh:a.x: SQLMesh fingerprint changed" in text
    assert "built as inputs only: sqlmesh:a.raw" in text
    assert "skipped (not changed, not downstream): dbt:z" in text
    assert "builds and the engines' own tests: 1 passed, 1 failed, 0 skipped" in text
    assert "  FAIL build dbt:y\n       Binder Error: no column v\n       LINE 3" in text
    assert "  FAIL contract x.yml [shared/schemas/x.yml]" in text
    assert "  skip model times against run history\n       no run history" in text
    assert "build sqlmesh:a.x" not in text  # passed cases are counted, not listed
    assert text.endswith("FAILED: 1 passed, 2 failed, 1 skipped\nfailing models: dbt:y, sqlmesh:a.x")


def test_junit_has_one_suite_per_category_with_failures_and_skips(tmp_path: Path) -> None:
    path = tmp_path / "out" / "junit.xml"
    write_junit(_report(), path)
    root = ET.parse(path).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == [
        "engine_tests",
        "schema_compatibility",
        "data_consistency",
        "performance_regression",
        "dependency_validation",
    ]
    engine = suites["engine_tests"]
    assert (engine.get("tests"), engine.get("failures"), engine.get("skipped")) == ("2", "1", "0")
    [failure] = engine.findall("testcase[@name='build dbt:y']/failure")
    assert failure.get("message") == "Binder Error: no column v"
    assert failure.text is not None and "model: dbt:y" in failure.text
    [contract] = suites["schema_compatibility"].findall("testcase")
    assert contract.get("file") == "shared/schemas/x.yml"
    [skipped] = suites["performance_regression"].findall("testcase/skipped")
    assert skipped.get("message") == "no run history"
    assert suites["data_consistency"].get("tests") == "0"


def test_a_report_without_failures_passes() -> None:
    report = results.TestReport("p", "development", "w", [Case("engine_tests", "build dbt:y", "passed")])
    assert report.passed and report.as_dict()["passed"] is True
    assert report.render().endswith("PASSED: 1 passed, 0 failed, 0 skipped")
