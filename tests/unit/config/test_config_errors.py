"""Every kind of broken project config gives one clear error: file, key path, problem, fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config import DualEngineConfigError, load_project
from airflow_provider_dualengine.graph import Engine, build_graph


def _graph_file(project: Path) -> Path:
    return project / "config" / "dependency_graph.yml"


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def _errors(project: Path) -> DualEngineConfigError:
    with pytest.raises(DualEngineConfigError) as info:
        build_graph(load_project(project))
    return info.value


def test_example_project_is_valid(example_project: Path) -> None:
    graph = build_graph(load_project(example_project))
    assert list(graph.stages) == ["stage_1_sqlmesh", "stage_2_mixed", "stage_3_dbt", "stage_4_sqlmesh_reporting"]
    assert [m.name for m in graph.stages["stage_2_mixed"].models[Engine.SQLMESH]] == ["intermediate.customer_lifetime"]
    assert [m.name for m in graph.stages["stage_3_dbt"].models[Engine.DBT]] == [
        "customer_order_summary",
        "customer_value",
    ]
    assert graph.stages["stage_1_sqlmesh"].external_inputs == ("source_data",)
    assert graph.stages["stage_3_dbt"].upstream_stages == ("stage_2_mixed",)


def test_unknown_engine(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "engine: both", "engine: spark")
    error = _errors(project_copy)
    issue = error.issues[0]
    assert issue.file == _graph_file(project_copy)
    assert issue.key == "dependency_graph.stage_2_mixed.engine"
    assert "'sqlmesh', 'dbt' or 'both'" in issue.message
    assert "dependency_graph.yml: dependency_graph.stage_2_mixed.engine:" in str(error)


def test_depends_on_unknown_name(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "depends_on: [stage_2_mixed]", "depends_on: [stage_2_mxied]")
    issue = _errors(project_copy).issues[0]
    assert issue.key == "dependency_graph.stage_3_dbt.depends_on[0]"
    assert "'stage_2_mxied' is neither a stage nor a declared external input" in issue.message
    assert "stage_2_mixed" in issue.hint and "external_inputs" in issue.hint


def test_cycle_between_stages(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "depends_on: [source_data]", "depends_on: [source_data, stage_3_dbt]")
    error = _errors(project_copy)
    [issue] = error.issues
    assert "stages form a cycle" in issue.message
    for stage in ("stage_1_sqlmesh", "stage_2_mixed", "stage_3_dbt"):
        assert stage in issue.message


@pytest.mark.parametrize(
    ("old", "new", "key", "engine"),
    [
        (
            "staging.stg_orders, staging.customer_enhanced]",
            "staging.stg_orders, staging.customer_enhancd]",
            "dependency_graph.stage_1_sqlmesh.models[3]",
            "sqlmesh",
        ),
        (
            "dbt_models: [stg_customers,",
            "dbt_models: [stg_customer,",
            "dependency_graph.stage_2_mixed.dbt_models[0]",
            "dbt",
        ),
    ],
)
def test_model_missing_from_its_engine(project_copy: Path, old: str, new: str, key: str, engine: str) -> None:
    _replace(_graph_file(project_copy), old, new)
    [issue] = _errors(project_copy).issues
    assert issue.key == key
    assert f"does not exist in the {engine} project" in issue.message
    assert "did you mean" in issue.message  # the close match is suggested


def test_model_of_the_other_engine_is_not_accepted(project_copy: Path) -> None:
    """A dbt model listed under sqlmesh_models is missing from SQLMesh, not silently moved."""
    _replace(
        _graph_file(project_copy), "sqlmesh_models: [intermediate.customer_lifetime]", "sqlmesh_models: [stg_customers]"
    )
    messages = [i.message for i in _errors(project_copy).issues]
    assert any("model 'stg_customers' does not exist in the sqlmesh project" in m for m in messages)


def test_duplicate_stage(project_copy: Path) -> None:
    path = _graph_file(project_copy)
    path.write_text(path.read_text() + "\n  stage_1_sqlmesh:\n    engine: dbt\n    models: [customer_value]\n")
    [issue] = _errors(project_copy).issues
    assert "duplicate key 'stage_1_sqlmesh'" in issue.message
    assert issue.key.startswith("line ")


def test_model_in_two_stages(project_copy: Path) -> None:
    _replace(
        _graph_file(project_copy),
        "models: [customer_order_summary, customer_value]",
        "models: [customer_order_summary, customer_value, stg_customers]",
    )
    [issue] = _errors(project_copy).issues
    assert issue.key == "dependency_graph.stage_3_dbt.models[2]"
    assert "already in stage 'stage_2_mixed'" in issue.message


def test_broken_yaml_names_line(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "engine: both", "engine: [both")
    [issue] = _errors(project_copy).issues
    assert issue.message.startswith("invalid YAML")
    assert issue.key.startswith("line ")


def test_both_stage_needs_both_lists(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "    dbt_models: [stg_customers, stg_completed_orders]\n", "")
    [issue] = _errors(project_copy).issues
    assert issue.key == "dependency_graph.stage_2_mixed"
    assert "needs non-empty `sqlmesh_models` and `dbt_models`" in issue.message


def test_external_input_needs_paths_or_asset(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "    paths: [sqlmesh/seeds/customers.csv, sqlmesh/seeds/orders.csv]\n", "")
    [issue] = _errors(project_copy).issues
    assert issue.key == "external_inputs.source_data"
    assert "needs `paths`" in issue.message


def test_misspelt_key_is_rejected(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "depends_on: [stage_1_sqlmesh]", "depend_on: [stage_1_sqlmesh]")
    [issue] = _errors(project_copy).issues
    assert issue.key == "dependency_graph.stage_2_mixed.depend_on"
    assert issue.hint == "remove the key or check its spelling"


def test_unsafe_model_name_is_rejected(project_copy: Path) -> None:
    _replace(
        _graph_file(project_copy), "models: [customer_order_summary,", "models: ['customer_order_summary; rm -rf /',"
    )
    [issue] = _errors(project_copy).issues
    assert issue.key == "dependency_graph.stage_3_dbt.models[0]"
    assert "should match pattern" in issue.message


def test_several_problems_are_reported_together(project_copy: Path) -> None:
    _replace(_graph_file(project_copy), "depends_on: [stage_2_mixed]", "depends_on: [nowhere]")
    _replace(_graph_file(project_copy), "dbt_models: [stg_customers,", "dbt_models: [no_such_model,")
    error = _errors(project_copy)
    assert len(error.issues) == 2
    assert str(error).startswith("2 problems in the dual-engine project configuration:")


def test_unknown_default_environment(project_copy: Path) -> None:
    _replace(project_copy / "dualengine.yml", "default_environment: development", "default_environment: qa")
    [issue] = _errors(project_copy).issues
    assert issue.file == project_copy / "dualengine.yml"
    assert issue.key == "default_environment"
    assert "development, production" in issue.hint


def test_missing_artifact_says_how_to_fix(project_copy: Path) -> None:
    (project_copy / "target" / "dualengine.json").unlink()
    [issue] = _errors(project_copy).issues
    assert issue.key == "compiled"
    assert "compiled artifact not found" in issue.message
    assert "dualengine compile" in issue.hint


def test_missing_dbt_manifest_says_how_to_fix(project_copy: Path) -> None:
    (project_copy / "dbt" / "target" / "manifest.json").unlink()
    [issue] = _errors(project_copy).issues
    assert issue.key == "dbt.manifest"
    assert "dualengine compile" in issue.hint


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(DualEngineConfigError, match="dualengine.yml not found"):
        load_project(tmp_path)


def test_postgres_rejects_dbt_views_over_sqlmesh_views(project_copy: Path) -> None:
    """SQLMesh swaps views with DROP VIEW ... CASCADE: on PostgreSQL that drops dbt views on top."""
    import dataclasses

    from airflow_provider_dualengine.graph import load_catalogs

    settings = project_copy / "dualengine.yml"
    settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    project = load_project(project_copy)
    catalogs, problems = load_catalogs(project)
    assert problems == []
    build_graph(project, catalogs)  # the example's dbt models over SQLMesh are tables: fine
    dbt = catalogs[Engine.DBT]
    dbt.models["stg_customers"] = dataclasses.replace(dbt.models["stg_customers"], kind="view")
    with pytest.raises(DualEngineConfigError) as info:
        build_graph(project, catalogs)
    [issue] = info.value.issues
    assert issue.key == "dbt model stg_customers"
    assert "reading SQLMesh model(s) staging.customer_enhanced" in issue.message
    assert issue.hint == "materialize it as a table (or incremental)"
