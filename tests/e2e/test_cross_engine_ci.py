"""`dualengine test --changed-since` in a user's repository, run as the generated CI workflow runs it.

A temporary git repository holds the example project. `dualengine ci init` writes the
GitHub workflow; its test step's command (with HEAD~1 for origin/main, the one thing a
pull request's checkout provides) runs after a commit that:

- breaks a SQLMesh model a dbt model reads: fails, naming the dbt model and the contract;
- changes a SQLMesh model harmlessly: passes, testing only it and its downstream;
- breaks the dbt mart the SQLMesh reporting model reads: fails, naming both and the contract.

Real SQLMesh, dbt and DuckDB throughout (each run builds in its own throwaway DuckDB
file); about 35 s per scenario here.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GIT = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]


@pytest.fixture
def repo(example_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with the example under transforms/ and the generated workflow, committed."""
    from airflow_provider_dualengine.cli.main import main

    root = tmp_path / "repo"
    shutil.copytree(
        example_project, root / "transforms", ignore=shutil.ignore_patterns("target", "*.duckdb", "logs", ".cache")
    )
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(root)], check=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", raising=False)
    assert main(["ci", "init", "transforms"]) == 0
    _commit(root, "the example project and its CI workflow")
    return root


def _commit(root: Path, message: str) -> None:
    subprocess.run([*GIT, "-C", str(root), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(root), "commit", "-q", "-m", message], check=True)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def _workflow_test_command(root: Path) -> list[str]:
    """The generated workflow's `dualengine test` step, with HEAD~1 as the base revision."""
    workflow = yaml.safe_load((root / ".github" / "workflows" / "dual_engine_tests.yml").read_text())
    steps = workflow["jobs"]["test_cross_engine_integration"]["steps"]
    [run] = [s["run"] for s in steps if s.get("id") == "dualengine-test"]
    argv = shlex.split(run)
    at = argv.index("--changed-since")
    assert argv[at + 1] == "origin/main"
    argv[at + 1] = "HEAD~1"
    return argv


def _run_workflow_test(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, ET.Element]:
    from airflow_provider_dualengine.cli.main import main

    argv = _workflow_test_command(root)
    assert argv[:3] == ["dualengine", "test", "transforms"]
    capsys.readouterr()
    code = main(argv[1:])
    out = capsys.readouterr().out
    junit = ET.parse(root / argv[argv.index("--junit") + 1]).getroot()
    return code, out, junit


def _failures(junit: ET.Element) -> dict[str, str]:
    """test case name -> failure text, from the JUnit XML."""
    return {
        case.get("name", ""): failure.text or ""
        for case in junit.iter("testcase")
        for failure in case.findall("failure")
    }


def test_a_breaking_sqlmesh_change_fails_naming_the_dbt_reader_and_the_contract(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lifetime = repo / "transforms" / "sqlmesh" / "models" / "intermediate" / "customer_lifetime.sql"
    _edit(lifetime, "    lifetime_value DECIMAL(18, 2)\n", "    total_value DECIMAL(18, 2)\n")
    _edit(lifetime, "AS lifetime_value", "AS total_value")
    _edit(lifetime, "completed_orders, lifetime_value)", "completed_orders, total_value)")
    _commit(repo, "rename lifetime_value")

    code, out, junit = _run_workflow_test(repo, capsys)

    assert code == 1, out
    assert "changed since HEAD~1: sqlmesh:intermediate.customer_lifetime\n" in out
    assert "skipped (not changed, not downstream): dbt:customer_order_summary, dbt:stg_completed_orders" in out
    failures = _failures(junit)
    # the dbt model that reads the renamed column, with dbt's own words
    assert 'does not have a column named "lifetime_value"' in failures["build dbt:customer_value"]
    contract = failures["contract customer_lifetime.yml: intermediate.customer_lifetime as the engines declare it"]
    assert (
        "column 'lifetime_value' is promised but sqlmesh model intermediate.customer_lifetime does not produce it"
        in contract
    )
    assert "model: dbt:customer_value" in contract
    assert (
        "failing models: dbt:customer_value, sqlmesh:intermediate.customer_lifetime, sqlmesh:reporting.value_band_summary"
        in out
    )


def test_a_harmless_sqlmesh_change_passes_and_tests_only_it_and_its_downstream(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lifetime = repo / "transforms" / "sqlmesh" / "models" / "intermediate" / "customer_lifetime.sql"
    _edit(lifetime, "GROUP BY\n  c.customer_id", "GROUP BY\n  1")  # same rows, another query: a new fingerprint
    _commit(repo, "group by position")

    code, out, junit = _run_workflow_test(repo, capsys)

    assert code == 0, out
    assert _failures(junit) == {}
    assert (
        "tested (changed and downstream): dbt:customer_value, sqlmesh:intermediate.customer_lifetime, sqlmesh:reporting.value_band_summary"
        in out
    )
    names = {case.get("name") for case in junit.iter("testcase") if not case.findall("skipped")}
    # the cross-engine reconciliation checks of shared/tests/ ran and passed
    assert {
        "every_customer_lifetime_has_a_value_band",
        "customer_value_keeps_one_row_per_lifetime",
        "lifetime_value_is_carried_unchanged_into_dbt",
        "value_band_summary_adds_up_to_customer_value",
        "build dbt:customer_value",
        "build sqlmesh:reporting.value_band_summary",
    } <= names
    assert "build dbt:customer_order_summary" not in names  # not downstream: not tested


def test_a_dbt_change_that_breaks_the_sqlmesh_reporting_model_fails_the_same_way(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = repo / "transforms" / "dbt" / "models" / "marts" / "customer_value.sql"
    _edit(value, "end as value_band", "end as band")
    _commit(repo, "rename value_band")

    code, out, junit = _run_workflow_test(repo, capsys)

    assert code == 1, out
    assert "changed since HEAD~1: dbt:customer_value\n" in out
    failures = _failures(junit)
    assert 'does not have a column named "value_band"' in failures["build sqlmesh:reporting.value_band_summary"]
    # dbt's schema.yml still declares value_band: the relation built says otherwise
    contract = failures["contract customer_value.yml: the relation built for customer_value"]
    assert "FAILED column_exists value_band: column value_band is missing" in contract
    assert "model: sqlmesh:reporting.value_band_summary" in contract
    read = failures["sqlmesh:reporting.value_band_summary reads dbt:customer_value"]
    assert "reads value_band from dbt:customer_value, which has no such column" in read
    assert "not_null_customer_value_value_band" in failures["build dbt:customer_value"]
    assert "sqlmesh:reporting.value_band_summary" in out.split("failing models: ")[1]
