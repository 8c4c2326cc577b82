"""The example DAG as Airflow sees it: groups per stage, edges, pools, no SQLMesh at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.factory.config import ExecutionConfig, ProjectConfig, RenderConfig, SQLMeshAction
from tests.conftest import DAGS_FOLDER

DAG_FILE = DAGS_FOLDER / "dualengine_example.py"


@pytest.fixture(scope="module")
def dagbag(example_project: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["dualengine_shop_development"]


def test_dags_folder_has_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "dualengine_shop_development" in dagbag.dag_ids


def test_one_task_group_per_stage_with_stage_edges(dag) -> None:
    groups = dag.task_group.children
    assert {"source_data", "stage_1_sqlmesh", "stage_2_mixed", "stage_3_dbt"} <= set(groups)
    assert dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage").upstream_task_ids == {"source_data", "validate_contracts"}
    run_2 = dag.get_task("stage_2_mixed.sqlmesh.run_stage")
    # each stage ends in one `done` join point after its last model tasks; the next stage starts there
    # (the contracted model's check comes last: see test_contract_checks_sit_between_producers_and_consumers)
    assert dag.get_task("stage_1_sqlmesh.done").upstream_task_ids == {
        "stage_1_sqlmesh.contract__staging__customer_enhanced"
    }
    assert run_2.upstream_task_ids == {"stage_1_sqlmesh.done"}
    assert run_2.select_models == ["intermediate.customer_lifetime"]
    assert run_2.environment == "dev"
    # dbt models of stage 2 wait for stage 1 too (one dbt build for the stage), beside the SQLMesh tasks,
    # behind the execution-window gate (the example's off-peak window is maintenance_only for dbt)
    assert dag.get_task("stage_2_mixed.dbt.window_gate").upstream_task_ids == {"stage_1_sqlmesh.done"}
    assert dag.get_task("stage_2_mixed.dbt.build_stage").upstream_task_ids == {"stage_2_mixed.dbt.window_gate"}
    # SQLMesh is never maintenance_only there: no gate
    assert "stage_2_mixed.sqlmesh.window_gate" not in dag.task_ids
    assert dag.get_task("stage_2_mixed.dbt.stg_customers").upstream_task_ids == {"stage_2_mixed.dbt.build_stage"}
    # stage 3 waits for both engines of stage 2
    assert dag.get_task("stage_2_mixed.done").upstream_task_ids == {
        "stage_2_mixed.contract__intermediate__customer_lifetime",
        "stage_2_mixed.dbt.stg_customers",
        "stage_2_mixed.dbt.stg_completed_orders",
    }
    assert dag.get_task("stage_3_dbt.dbt.window_gate").upstream_task_ids == {"stage_2_mixed.done"}


def test_one_task_per_sqlmesh_model_with_sqlmesh_dependencies_as_edges(dag, airflow_home: Path) -> None:
    from airflow.sdk import Asset

    prefix = "stage_1_sqlmesh.sqlmesh."
    stage_1 = {t.task_id.removeprefix(prefix): t for t in dag.tasks if t.task_id.startswith(prefix)}
    assert sorted(stage_1) == [
        "raw__raw_customers",
        "raw__raw_orders",
        "run_stage",
        "staging__customer_enhanced",
        "staging__stg_orders",
    ]
    upstream = {name: {u.removeprefix(prefix) for u in task.upstream_task_ids} for name, task in stage_1.items()}
    assert upstream == {
        "run_stage": {"source_data", "validate_contracts"},
        "raw__raw_customers": {"run_stage"},
        "raw__raw_orders": {"run_stage"},
        "staging__stg_orders": {"raw__raw_orders"},
        "staging__customer_enhanced": {"raw__raw_customers", "staging__stg_orders"},
    }
    assert stage_1["staging__customer_enhanced"].task_display_name == "staging.customer_enhanced"
    # the engine runs once per stage; model tasks only report, they neither write nor queue for the pool
    assert stage_1["run_stage"].select_models == [
        "raw.raw_customers",
        "raw.raw_orders",
        "staging.stg_orders",
        "staging.customer_enhanced",
    ]
    assert stage_1["staging__stg_orders"].pool == "default_pool"
    # the model's table as the Asset it declares (named after the parse-time warehouse connection of tests/conftest.py)
    assert [o.uri for o in stage_1["staging__stg_orders"].outlets] == [
        Asset(f"duckdb://{airflow_home}/parse-only/shop.duckdb/shop/staging__dev/stg_orders").uri
    ]


def test_dbt_tasks_are_limited_to_the_stage_models(dag) -> None:
    stage_3 = sorted(t for t in dag.task_ids if t.startswith("stage_3_dbt."))
    assert stage_3 == [
        "stage_3_dbt.contract__customer_value",
        "stage_3_dbt.dbt.build_stage",
        "stage_3_dbt.dbt.customer_order_summary",
        "stage_3_dbt.dbt.customer_value",
        "stage_3_dbt.dbt.window_gate",
        "stage_3_dbt.done",
    ]
    # one dbt invocation builds exactly the stage's models; each model task reports its own
    assert dag.get_task("stage_3_dbt.dbt.build_stage").models == ["customer_order_summary", "customer_value"]
    assert dag.get_task("stage_3_dbt.dbt.customer_value").build_task_id == "stage_3_dbt.dbt.build_stage"


def test_cosmos_renders_run_and_test_tasks_per_model_on_request(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, render_config=RenderConfig(dbt_execution="per_model"))
    stage_3 = sorted(t for t in dag.task_ids if t.startswith("stage_3_dbt.dbt."))
    assert stage_3 == [
        "stage_3_dbt.dbt.customer_order_summary.run",
        "stage_3_dbt.dbt.customer_order_summary.test",
        "stage_3_dbt.dbt.customer_value.run",
        "stage_3_dbt.dbt.customer_value.test",
        "stage_3_dbt.dbt.window_gate",  # in front of Cosmos' tasks too
    ]
    task = dag.get_task("stage_2_mixed.dbt.stg_customers.run")
    assert task.vars == {"sqlmesh_schema_suffix": "__dev"}
    assert task.profile_config.profile_mapping.profile_args["schema"] == "analytics_dev"
    with pytest.raises(ValueError, match="dbt_execution must be one of 'stage', 'per_model'"):
        RenderConfig(dbt_execution="watcher")


def test_every_warehouse_writer_uses_the_single_writer_pool(dag) -> None:
    from airflow_provider_dualengine.operators.dbt_model import DbtModelOperator
    from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator

    writers = [
        t
        for t in dag.tasks
        if t.task_id not in ("source_data", "validate_contracts")
        and not t.task_id.endswith((".done", ".window_gate"))
        and not isinstance(t, SQLMeshModelOperator | DbtModelOperator)
    ]
    # one SQLMesh executor per stage with SQLMesh models, one dbt build per stage with dbt models,
    # one check per contracted producer (DuckDB: a reading process needs the file lock too)
    from airflow_provider_dualengine.config.contracts import load_contracts
    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.contracts.producers import contracted_producers
    from airflow_provider_dualengine.graph import Engine, build_graph

    project = load_project(dag.get_task("validate_contracts").project_dir)
    graph = build_graph(project)
    contracts, _ = load_contracts(project.contracts_path)
    sqlmesh_stages = [s for s in graph.stages.values() if Engine.SQLMESH in s.engines()]
    dbt_stages = [s for s in graph.stages.values() if Engine.DBT in s.engines()]
    expected = len(sqlmesh_stages) + len(dbt_stages) + len(contracted_producers(contracts, graph))
    assert len(sqlmesh_stages) > 0 and len(writers) == expected
    assert {t.pool for t in writers} == {"dualengine_warehouse"}
    assert dag.get_task("source_data").pool == "default_pool"
    assert dag.get_task("validate_contracts").pool == "default_pool"  # reads the compiled artifact only
    # the window gates touch no warehouse: they only read resources.yml and defer
    assert {dag.get_task(f"{s}.dbt.window_gate").pool for s in ("stage_2_mixed", "stage_3_dbt")} == {"default_pool"}


def test_dbt_reads_the_sqlmesh_environment_of_the_dag(dag) -> None:
    for task_id in ("stage_2_mixed.dbt.build_stage", "stage_2_mixed.dbt.stg_customers"):  # a retry runs dbt too
        task = dag.get_task(task_id)
        assert task.dbt_vars == {"sqlmesh_schema_suffix": "__dev"}
        assert (task.target_name, task.schema, task.profile_name) == ("dev", "analytics_dev", "shop")
        assert task.hook().profile_config().profile_mapping.profile_args["schema"] == "analytics_dev"


def test_production_environment_targets_prod(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(ProjectConfig(example_project, environment="production"))
    assert dag.dag_id == "dualengine_shop_production"
    assert dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage").environment == "prod"
    assert dag.get_task("stage_2_mixed.dbt.build_stage").dbt_vars == {"sqlmesh_schema_suffix": ""}
    assert dag.get_task("stage_2_mixed.dbt.build_stage").schema == "analytics"


def test_one_task_per_sqlmesh_stage_when_model_tasks_are_off(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, render_config=RenderConfig(sqlmesh_model_tasks=False))
    stage_1 = sorted(t for t in dag.task_ids if t.startswith("stage_1_sqlmesh."))
    assert stage_1 == [
        "stage_1_sqlmesh.contract__staging__customer_enhanced",
        "stage_1_sqlmesh.done",
        "stage_1_sqlmesh.sqlmesh.run_stage",
    ]
    assert dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage").fail_on_model_error is True
    assert dag.get_task("stage_1_sqlmesh.contract__staging__customer_enhanced").upstream_task_ids == {
        "stage_1_sqlmesh.sqlmesh.run_stage"
    }


def test_model_level_dependencies_wait_only_for_what_each_model_reads(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, render_config=RenderConfig(model_level_dependencies=True))
    s1, s2 = "stage_1_sqlmesh.sqlmesh.", "stage_2_mixed."
    # the stage's dbt build waits for what its models read (staging.stg_orders, and customer_enhanced
    # once its contract check passed), not for the whole of stage 1
    ce_ready = "stage_1_sqlmesh.contract__staging__customer_enhanced"
    assert dag.get_task(f"{s2}dbt.build_stage").upstream_task_ids == {
        f"{s1}staging__stg_orders",
        ce_ready,
        f"{s2}dbt.window_gate",
    }
    # the SQLMesh stage runs once both of the stage-1 models it reads are reported
    assert dag.get_task(f"{s2}sqlmesh.run_stage").upstream_task_ids == {f"{s1}staging__stg_orders", ce_ready}
    # the execution-window gate in front of a dbt build waits for what the build's models read,
    # so it judges the window when the work can start, not when the DAG run starts
    assert dag.get_task(f"{s2}dbt.window_gate").upstream_task_ids == {f"{s1}staging__stg_orders", ce_ready}
    # the marts' build waits for their own inputs, across engines, and not for unrelated models
    assert dag.get_task("stage_3_dbt.dbt.build_stage").upstream_task_ids == {
        "stage_3_dbt.dbt.window_gate",
        f"{s2}contract__intermediate__customer_lifetime",
        f"{s2}dbt.stg_customers",
        f"{s2}dbt.stg_completed_orders",
    }


def test_independent_branches_of_a_stage_are_split_for_cron_runs() -> None:
    from airflow_provider_dualengine.factory.sqlmesh_tasks import independent_branches
    from airflow_provider_dualengine.graph.engine import Engine
    from airflow_provider_dualengine.graph.model import ModelNode

    def node(name: str, *deps: str) -> ModelNode:
        return ModelNode(Engine.SQLMESH, name, depends_on=deps)

    models = (
        node("raw.a"),
        node("raw.slow"),
        node("staging.b", "raw.a"),
        node("staging.c", "staging.b", "raw.outside"),
        node("staging.d"),
    )
    branches = [[m.name for m in b] for b in independent_branches(models)]
    assert branches == [["raw.a", "staging.b", "staging.c"], ["raw.slow"], ["staging.d"]]


def _render_sqlmesh_stage(project_dir: Path, models, *, split: bool):
    """One SQLMesh stage of synthetic models rendered for cron runs (no compiled project)."""
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.factory.render_context import RenderContext
    from airflow_provider_dualengine.factory.sqlmesh_tasks import render_sqlmesh_models

    project = load_project(project_dir)
    ctx = RenderContext(
        project=project,
        environment=project.environment(None),
        sqlmesh_action=SQLMeshAction.RUN,
        split_sqlmesh_branches=split,
        sqlmesh_operator_args={"execution_time": "{{ data_interval_end }}"},
    )
    with DAG("synthetic", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        render_sqlmesh_models(models, ctx)
    return dag


def test_model_level_cron_runs_get_one_engine_run_per_independent_branch(example_project: Path) -> None:
    from airflow_provider_dualengine.graph.engine import Engine
    from airflow_provider_dualengine.graph.model import ModelNode

    models = (
        ModelNode(Engine.SQLMESH, "raw.a"),
        ModelNode(Engine.SQLMESH, "staging.b", depends_on=("raw.a",)),
        ModelNode(Engine.SQLMESH, "raw.slow"),
    )
    split = _render_sqlmesh_stage(example_project, models, split=True)
    runs = {t.task_id: t for t in split.tasks if t.task_id.startswith("sqlmesh.run")}
    assert sorted(runs) == ["sqlmesh.run__raw__a", "sqlmesh.run__raw__slow"]
    assert runs["sqlmesh.run__raw__a"].select_models == ["raw.a", "staging.b"]
    assert runs["sqlmesh.run__raw__slow"].select_models == ["raw.slow"]
    assert {r.execution_time for r in runs.values()} == {"{{ data_interval_end }}"}
    # each model task reports the run of its own branch, so a slow branch holds nobody else back
    assert split.get_task("sqlmesh.raw__a").upstream_task_ids == {"sqlmesh.run__raw__a"}
    assert split.get_task("sqlmesh.staging__b").upstream_task_ids == {"sqlmesh.raw__a"}
    assert split.get_task("sqlmesh.raw__slow").upstream_task_ids == {"sqlmesh.run__raw__slow"}

    # a connected stage keeps one engine run, and so does any stage without model-level scheduling
    connected = _render_sqlmesh_stage(example_project, models[:2], split=True)
    unsplit = _render_sqlmesh_stage(example_project, models, split=False)
    for dag in (connected, unsplit):
        assert [t.task_id for t in dag.tasks if t.task_id.startswith("sqlmesh.run")] == ["sqlmesh.run_stage"]
    assert unsplit.get_task("sqlmesh.run_stage").select_models == ["raw.a", "staging.b", "raw.slow"]


def test_model_level_cron_runs_through_build_dag(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(
        example_project,
        render_config=RenderConfig(model_level_dependencies=True),
        execution_config=ExecutionConfig(
            sqlmesh_action=SQLMeshAction.RUN, sqlmesh_operator_args={"execution_time": "{{ data_interval_end }}"}
        ),
    )
    run_1 = dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage")  # the example's stage-1 models are all connected
    assert run_1.execution_time == "{{ data_interval_end }}"
    assert run_1.env == {"DUALENGINE_DBT_SCHEMA": "analytics_dev"}


def test_unknown_sqlmesh_action_is_refused(example_project: Path) -> None:
    from airflow_provider_dualengine import ExecutionConfig, build_dag

    with pytest.raises(ValueError, match="sqlmesh_action must be one of 'plan', 'run', not 'apply'"):
        ExecutionConfig(sqlmesh_action="apply")
    with pytest.raises(TypeError, match=r"sqlmesh_action= -> ExecutionConfig\(sqlmesh_action=...\)"):
        build_dag(example_project, sqlmesh_action="run")  # an argument of earlier versions: where it lives now


def test_parsing_the_dag_file_never_loads_sqlmesh(example_project: Path) -> None:
    """A full SQLMesh Context costs seconds: the DAG file must not even import sqlmesh."""
    probe = (
        "import json, runpy, sys, time; t = time.perf_counter();"
        f"runpy.run_path({str(DAG_FILE)!r});"
        "print(json.dumps({'sqlmesh': sorted(m for m in sys.modules if m.startswith('sqlmesh'))[:5], 'dbt_ran': 'dbt.cli.main' in sys.modules}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == {"sqlmesh": [], "dbt_ran": False}


BROKEN_CASES = {
    "unknown engine": ("engine: both", "engine: spark", "dependency_graph.stage_2_mixed.engine"),
    "unknown depends_on": (
        "depends_on: [stage_2_mixed]",
        "depends_on: [stage_9]",
        "'stage_9' is neither a stage nor a declared external input",
    ),
    "cycle": ("depends_on: [source_data]", "depends_on: [stage_3_dbt]", "stages form a cycle"),
    "missing model": (
        "dbt_models: [stg_customers,",
        "dbt_models: [stg_nothing,",
        "model 'stg_nothing' does not exist in the dbt project",
    ),
    "duplicate stage": ("\n  stage_3_dbt:\n", "\n  stage_2_mixed:\n", "duplicate key 'stage_2_mixed'"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_broken_graph_is_one_readable_import_error(case: str, project_copy: Path, tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    old, new, expected = BROKEN_CASES[case]
    graph_file = project_copy / "config" / "dependency_graph.yml"
    graph_file.write_text(graph_file.read_text().replace(old, new, 1))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "pipeline.py").write_text(
        DAG_FILE.read_text().replace('os.environ.get("DUALENGINE_PROJECT_DIR")', repr(str(project_copy)))
    )

    bag = DagBag(dag_folder=str(dags))
    assert bag.dag_ids == []
    [message] = bag.import_errors.values()
    assert expected in message
    assert "dependency_graph.yml" in message
    assert "DualEngineConfigError: 1 problem in the dual-engine project configuration" in message
    assert "pydantic" not in message and len(message.splitlines()) <= 12


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_validate_cli_fails_with_the_same_error(case: str, project_copy: Path, capsys) -> None:
    from airflow_provider_dualengine.cli.main import main

    old, new, expected = BROKEN_CASES[case]
    graph_file = project_copy / "config" / "dependency_graph.yml"
    graph_file.write_text(graph_file.read_text().replace(old, new, 1))
    assert main(["validate", str(project_copy)]) == 1
    err = capsys.readouterr().err
    assert expected in err and str(graph_file) in err


def test_validate_console_script_on_the_example(example_project: Path) -> None:
    exe = Path(sys.executable).with_name("dualengine")
    result = subprocess.run([str(exe), "validate", str(example_project)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "6 SQLMesh models, 4 dbt models in 4 stages; 4 cross-engine edges" in result.stdout


def test_sqlmesh_model_tasks_carry_their_lineage_inputs(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project)
    reporting = dag.get_task("stage_4_sqlmesh_reporting.sqlmesh.reporting__value_band_summary")
    assert reporting.lineage_external_inputs == ["analytics_dev.customer_value"]  # the dbt mart of this environment
    assert reporting.columns == {"value_band": "TEXT", "customers": "BIGINT", "lifetime_value": "DECIMAL(18, 2)"}
    lifetime = dag.get_task("stage_2_mixed.sqlmesh.intermediate__customer_lifetime")
    assert sorted(lifetime.lineage_inputs) == ["staging.customer_enhanced", "staging.stg_orders"]


def test_a_dag_of_some_stages_starts_where_its_stages_start(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(ProjectConfig(example_project, stages=["stage_3_dbt"]), dag_id="marts")
    assert {t.task_id.split(".")[0] for t in dag.tasks} == {"stage_3_dbt", "validate_contracts"}
    assert sorted(t.task_id for t in dag.roots) == ["validate_contracts"]
    with pytest.raises(
        DualEngineConfigError, match="(?s)unknown stage.*stage_9.*use stages of this project: stage_1_sqlmesh"
    ):
        build_dag(ProjectConfig(example_project, stages=["stage_9"]))


def test_model_assets_name_tables_like_the_producing_tasks(
    example_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dualengine import model_assets

    monkeypatch.setenv(
        "AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": "/data/shop.duckdb"})
    )
    assets = model_assets(["intermediate.customer_lifetime", "dbt:customer_value", "stg_customers"], example_project)
    assert [a.uri for a in assets] == [
        "duckdb:/data/shop.duckdb/shop/intermediate__dev/customer_lifetime",
        "duckdb:/data/shop.duckdb/shop/analytics_dev/customer_value",
        "duckdb:/data/shop.duckdb/shop/analytics_dev/stg_customers",
    ]
    prod = model_assets(["customer_lifetime"], example_project, environment="production")
    assert prod[0].uri == "duckdb:/data/shop.duckdb/shop/intermediate/customer_lifetime"
    with pytest.raises(DualEngineConfigError, match="'sqlmesh:customer_value' is not a model of this project"):
        model_assets(["sqlmesh:customer_value"], example_project)


def test_contract_checks_sit_between_producers_and_consumers(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project)
    check = dag.get_task("stage_1_sqlmesh.contract__staging__customer_enhanced")
    assert check.upstream_task_ids == {"stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"}
    assert (check.schema, check.table) == ("staging__dev", "customer_enhanced")  # the dev view
    assert dag.get_task("stage_1_sqlmesh.done").upstream_task_ids == {check.task_id}
    assert dag.get_task("stage_3_dbt.contract__customer_value").table == "customer_value"
    assert dag.get_task("validate_contracts").downstream_task_ids == {"stage_1_sqlmesh.sqlmesh.run_stage"}
    # model-level: the dbt reader waits for the check, not for the model
    dag = build_dag(example_project, render_config=RenderConfig(model_level_dependencies=True))
    assert check.task_id in dag.get_task("stage_2_mixed.dbt.build_stage").upstream_task_ids


def test_dbt_model_lineage_joins_the_sqlmesh_outputs_it_reads(dag) -> None:
    """One naming rule for both engines: the dbt model task's input datasets are exactly the
    SQLMesh (and dbt) model tasks' output datasets, across the cross-engine ref() too."""
    pytest.importorskip("airflow.providers.openlineage")

    def lineage(task_id: str):
        return dag.get_task(task_id).get_openlineage_facets_on_complete(None)

    def names(datasets) -> set[tuple[str, str]]:
        return {(d.namespace, d.name) for d in datasets}

    value = lineage("stage_3_dbt.dbt.customer_value")
    lifetime = lineage("stage_2_mixed.sqlmesh.intermediate__customer_lifetime")  # read through ref()
    stg_customers = lineage("stage_2_mixed.dbt.stg_customers")
    assert names(value.inputs) == names(lifetime.outputs) | names(stg_customers.outputs)
    [output] = value.outputs
    assert output.name.endswith(".analytics_dev.customer_value")
    assert [f.name for f in output.facets["schema"].fields] == [
        "customer_id",
        "customer_tier",
        "lifetime_value",
        "value_band",
    ]
    # and the dbt staging model's input is the SQLMesh view its source points at
    assert names(stg_customers.inputs) == names(lineage("stage_1_sqlmesh.sqlmesh.staging__customer_enhanced").outputs)


def test_independent_dbt_branches_get_their_own_build_for_cron_runs(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(
        example_project,
        render_config=RenderConfig(model_level_dependencies=True),
        execution_config=ExecutionConfig(sqlmesh_action=SQLMeshAction.RUN),
    )
    builds = {t.task_id: t.models for t in dag.tasks if t.task_id.startswith("stage_2_mixed.dbt.build")}
    assert builds == {
        "stage_2_mixed.dbt.build__stg_customers": ["stg_customers"],
        "stage_2_mixed.dbt.build__stg_completed_orders": ["stg_completed_orders"],
    }
    # each waits only for what its model reads
    assert dag.get_task("stage_2_mixed.dbt.build__stg_completed_orders").upstream_task_ids == {
        "stage_1_sqlmesh.sqlmesh.staging__stg_orders",
        "stage_2_mixed.dbt.window_gate",
    }
    assert dag.get_task("stage_2_mixed.dbt.stg_customers").build_task_id == "stage_2_mixed.dbt.build__stg_customers"


def test_stage_tasks_only_for_very_large_projects(example_project: Path, airflow_home: Path) -> None:
    """Without model tasks each engine runs once per stage and fails on a model's failure;
    the task that builds the models declares their Assets instead."""
    from airflow.sdk import Asset

    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, render_config=RenderConfig(sqlmesh_model_tasks=False, dbt_model_tasks=False))
    stage_3 = sorted(t for t in dag.task_ids if t.startswith("stage_3_dbt."))
    assert stage_3 == [
        "stage_3_dbt.contract__customer_value",
        "stage_3_dbt.dbt.build_stage",
        "stage_3_dbt.dbt.window_gate",
        "stage_3_dbt.done",
    ]
    build = dag.get_task("stage_3_dbt.dbt.build_stage")
    assert build.fail_on_model_error is True
    base = f"duckdb://{airflow_home}/parse-only/shop.duckdb/shop"
    assert sorted(o.uri for o in build.outlets) == sorted(
        Asset(f"{base}/analytics_dev/{m}").uri for m in ("customer_order_summary", "customer_value")
    )
    run_1 = dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage")
    assert Asset(f"{base}/staging__dev/customer_enhanced").uri in {o.uri for o in run_1.outlets}
    assert dag.get_task("stage_3_dbt.contract__customer_value").upstream_task_ids == {build.task_id}


def test_contract_checks_date_the_producers_data_where_its_engine_recorded_it(example_project: Path) -> None:
    """A freshness SLA without freshness_column: SQLMesh's state for a SQLMesh producer, the
    dbt task that built the model in this run (one build per stage), or its Asset events
    when Cosmos renders it."""
    from airflow_provider_dualengine import build_dag

    stage = build_dag(example_project)
    sqlmesh_check = stage.get_task("stage_1_sqlmesh.contract__staging__customer_enhanced")
    assert (sqlmesh_check.sqlmesh_environment, sqlmesh_check.gateway) == ("dev", "duckdb")
    assert sqlmesh_check.project_path == str(example_project / "sqlmesh")
    dbt_check = stage.get_task("stage_3_dbt.contract__customer_value")
    assert dbt_check.dbt_outcome_task_id == "stage_3_dbt.dbt.customer_value"
    assert dbt_check.upstream_task_ids == {"stage_3_dbt.dbt.customer_value"}

    per_model = build_dag(example_project, render_config=RenderConfig(dbt_execution="per_model"))
    cosmos_check = per_model.get_task("stage_3_dbt.contract__customer_value")
    assert cosmos_check.dbt_outcome_task_id is None
    assert cosmos_check.producer_asset_uri.endswith("/analytics_dev/customer_value")
    from airflow.sdk import Asset

    assert cosmos_check.inlets == [Asset(cosmos_check.producer_asset_uri)]


def test_warehouse_writers_wait_for_a_deployment_of_their_environment_but_the_deployment_does_not(
    example_project: Path,
) -> None:
    from airflow_provider_dualengine import ProjectConfig, build_dag, build_deploy_dag
    from airflow_provider_dualengine.operators.deployment_gate import WaitsForDeployments

    regular = build_dag(example_project)
    writers = {t.task_id: t.deployment_environment for t in regular.tasks if isinstance(t, WaitsForDeployments)}
    assert writers and set(writers.values()) == {"development"}
    assert {"stage_1_sqlmesh.sqlmesh.run_stage", "stage_3_dbt.dbt.build_stage"} <= set(writers)
    deploy = build_deploy_dag(ProjectConfig(example_project, environment="production"))
    gated = [t.task_id for t in deploy.tasks if getattr(t, "deployment_environment", None)]
    assert gated == []  # the deployment never waits for itself


def _uris(assets) -> set[str]:
    return {a.uri for a in assets}


def test_each_model_task_declares_what_it_reads_as_inlets(dag, example_project: Path) -> None:
    """A consumer's inlets are exactly its producers' outlets, in either engine, so Airflow's
    Asset graph links the tasks across the cross-engine ref()."""
    value = dag.get_task("stage_3_dbt.dbt.customer_value")
    producers = ["stage_2_mixed.sqlmesh.intermediate__customer_lifetime", "stage_2_mixed.dbt.stg_customers"]
    assert _uris(value.inlets) == set().union(*(_uris(dag.get_task(t).outlets) for t in producers))
    reporting = dag.get_task("stage_4_sqlmesh_reporting.sqlmesh.reporting__value_band_summary")
    assert _uris(reporting.inlets) == _uris(value.outlets)  # SQLMesh reading the dbt mart
    # a seed model reads its CSV: the same file Asset the external-input sensor declares
    csv = (example_project / "sqlmesh" / "seeds" / "customers.csv").resolve()
    seed = dag.get_task("stage_1_sqlmesh.sqlmesh.raw__raw_customers")
    assert _uris(seed.inlets) == {f"file://{csv}"} and seed.lineage_files == [str(csv)]
    assert f"file://{csv}" in _uris(dag.get_task("source_data").inlets)


def test_stage_builders_declare_only_inputs_from_outside_themselves(example_project: Path) -> None:
    from airflow_provider_dualengine import build_dag

    dag = build_dag(example_project, render_config=RenderConfig(sqlmesh_model_tasks=False, dbt_model_tasks=False))
    stage_1 = dag.get_task("stage_1_sqlmesh.sqlmesh.run_stage")
    seeds = example_project.resolve() / "sqlmesh" / "seeds"
    assert _uris(stage_1.inlets) == {f"file://{seeds / 'customers.csv'}", f"file://{seeds / 'orders.csv'}"}
    assert len(stage_1.outlets) == 4
    build = dag.get_task("stage_3_dbt.dbt.build_stage")
    assert {u.rsplit("/", 2)[-2] + "." + u.rsplit("/", 1)[-1] for u in _uris(build.inlets)} == {
        "analytics_dev.stg_customers",
        "analytics_dev.stg_completed_orders",
        "intermediate__dev.customer_lifetime",
    }
