"""`--changed-since`: git revisions checked before use, what counts as a changed file, and
which models a change selects across the engines (the example's graph)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.testing import changes
from airflow_provider_dualengine.testing.changes import _changed_files, _commit, _repository, input_models

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = tmp_path / "repo" / "transforms"
    (project / "models").mkdir(parents=True)
    (project / "models" / "a.sql").write_text("select 1\n")
    (tmp_path / "repo" / "other.txt").write_text("outside\n")
    subprocess.run([*GIT, "init", "-q", str(tmp_path / "repo")], check=True)
    subprocess.run([*GIT, "-C", str(tmp_path / "repo"), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(tmp_path / "repo"), "commit", "-qm", "base"], check=True)
    return project


def test_changed_files_are_the_projects_committed_unstaged_and_untracked_changes(repo: Path) -> None:
    root = _repository(repo)
    base = _commit(root, "HEAD")
    assert _changed_files(root, base, ["transforms"]) == set()
    (repo / "models" / "a.sql").write_text("select 2\n")  # unstaged
    (repo / "models" / "new file é.sql").write_text("select 3\n")  # untracked, a name git would quote
    (root / "other.txt").write_text("changed outside the project\n")
    assert _changed_files(root, base, ["transforms"]) == {"transforms/models/a.sql", "transforms/models/new file é.sql"}
    assert "other.txt" in _changed_files(root, base, ["transforms", "other.txt"])


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "HEAD; rm -rf /", "", "a b"])
def test_a_ref_that_is_no_plain_revision_is_refused_before_git_sees_it(repo: Path, ref: str) -> None:
    root = _repository(repo)
    with pytest.raises(DualEngineConfigError, match="is not a git revision") as caught:
        _commit(root, ref)
    assert "origin/main or HEAD~1" in caught.value.issues[0].hint


def test_an_unknown_ref_says_to_fetch_full_history(repo: Path) -> None:
    root = _repository(repo)
    with pytest.raises(DualEngineConfigError, match="git revision 'origin/main' not found") as caught:
        _commit(root, "origin/main")
    assert "fetch-depth: 0" in caught.value.issues[0].hint


def test_outside_a_repository_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(DualEngineConfigError, match="the project is not in a git repository"):
        _repository(tmp_path)


def test_a_change_selects_its_downstream_in_both_engines_and_builds_its_inputs(example_project: Path) -> None:
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.graph import build_graph

    graph = build_graph(load_project(example_project))
    tested = changes.tested_models(graph, {(Engine.SQLMESH, "intermediate.customer_lifetime")})
    assert tested == {
        (Engine.SQLMESH, "intermediate.customer_lifetime"),
        (Engine.DBT, "customer_value"),
        (Engine.SQLMESH, "reporting.value_band_summary"),
    }
    assert input_models(graph, tested) == {
        (Engine.DBT, "stg_customers"),
        (Engine.SQLMESH, "staging.customer_enhanced"),
        (Engine.SQLMESH, "staging.stg_orders"),
        (Engine.SQLMESH, "raw.raw_customers"),
        (Engine.SQLMESH, "raw.raw_orders"),
    }
    dbt_change = changes.tested_models(graph, {(Engine.DBT, "stg_completed_orders")})
    assert dbt_change == {(Engine.DBT, "stg_completed_orders"), (Engine.DBT, "customer_order_summary")}
