"""Valid chains of thousands of stages validate and render without RecursionError.

The project is synthetic but complete: settings, a 5,000-stage dependency graph (each
stage one SQLMesh model reading the previous one), and a compiled artifact plus dbt
manifest of the kind `dualengine compile` writes, fresh for the project's source files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from airflow_provider_dualengine.config import DualEngineConfigError, load_project
from airflow_provider_dualengine.graph import build_graph

STAGES = 5000
# Rendering costs Airflow quadratic time in the number of groups (~23 s for 5,000 stages):
# the rendered chain is shorter, but still deeper than the recursion limit.
RENDER_STAGES = 1500


def _chain_project(root: Path, stages: int, broken_at: int | None = None) -> Path:
    """`stages` SQLMesh stages in a chain; with `broken_at`, that stage's model also reads
    `chain.late`, a model placed in the last stage (a read from a later stage)."""
    from airflow_provider_dualengine.compiled.artifact import ARTIFACT_VERSION, source_files_state

    (root / "sqlmesh").mkdir(parents=True)
    (root / "sqlmesh" / "config.yaml").write_text(
        "gateways: {duckdb: {connection: {type: duckdb}}}\nmodel_defaults: {dialect: duckdb}\n"
    )
    (root / "dbt" / "target").mkdir(parents=True)
    (root / "dbt" / "dbt_project.yml").write_text("name: chain\nprofile: chain\n")
    (root / "dbt" / "target" / "manifest.json").write_text(
        json.dumps({"metadata": {"project_name": "chain"}, "nodes": {}, "sources": {}})
    )
    (root / "config").mkdir()
    (root / "dualengine.yml").write_text(
        yaml.safe_dump({"name": "chain", "dbt": {"profile": "chain"}, "default_environment": "dev"})
    )
    (root / "config" / "dual_engine_environments.yml").write_text(
        yaml.safe_dump({"environments": {"dev": {"sqlmesh": {"environment_suffix": "_dev"}, "dbt": {"target": "dev"}}}})
    )
    graph = {
        f"stage_{i}": {
            "engine": "sqlmesh",
            "models": [f"chain.m_{i}"],
            **({"depends_on": [f"stage_{i - 1}"]} if i else {}),
        }
        for i in range(stages)
    }
    graph[f"stage_{stages - 1}"]["models"].append("chain.late")
    # Listed last stage first: order in the file is free, and a walk that follows
    # depends_on from there goes the whole chain deep.
    listed = dict(reversed(graph.items()))
    (root / "config" / "dependency_graph.yml").write_text(yaml.safe_dump({"dependency_graph": listed}, sort_keys=False))
    models = {}
    for i in range(stages):
        reads = ([f"chain.m_{i - 1}"] if i else []) + (["chain.late"] if i == broken_at else [])
        models[f"chain.m_{i}"] = {
            "kind": "FULL",
            "cron": "@daily",
            "depends_on": reads,
            "external_depends_on": [],
            "columns": {"id": "INT"},
            "python": False,
            "path": None,
            "dialect": "duckdb",
            "audits": [],
            "column_lineage": {},
        }
    models["chain.late"] = {**models["chain.m_0"], "depends_on": []}
    project = load_project(root)
    artifact = {
        "version": ARTIFACT_VERSION,
        "sources": source_files_state(project),
        "sqlmesh": {"project_path": str(root / "sqlmesh"), "gateway": "duckdb", "models": models},
        "dbt": {"manifest": "dbt/target/manifest.json", "models": {}},
        "cross_engine_edges": [],
    }
    (root / "target").mkdir()
    (root / "target" / "dualengine.json").write_text(json.dumps(artifact))
    return root


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _chain_project(tmp_path_factory.mktemp("chain"), STAGES)


def test_5000_stage_chain_validates_in_order(chain: Path) -> None:
    assert sys.getrecursionlimit() < STAGES  # the chain is deeper than any recursive walk could go
    graph = build_graph(load_project(chain))
    assert list(graph.stages)[:3] == ["stage_0", "stage_1", "stage_2"]
    assert list(graph.stages)[-1] == f"stage_{STAGES - 1}"
    assert len(graph.models_graph.edges) == STAGES - 1
    assert len(graph.models()) == STAGES + 1


def test_read_from_a_later_stage_is_found_in_a_long_chain(tmp_path: Path) -> None:
    root = _chain_project(tmp_path / "broken", STAGES, broken_at=2500)
    with pytest.raises(DualEngineConfigError) as info:
        build_graph(load_project(root))
    messages = [issue.message for issue in info.value.issues]
    assert any(
        "sqlmesh:chain.m_2500 (stage 'stage_2500') reads sqlmesh:chain.late, placed in stage 'stage_4999', which does not run before 'stage_2500'"
        in m
        for m in messages
    ), messages


@pytest.mark.slow
def test_a_stage_chain_deeper_than_the_recursion_limit_renders_as_a_dag(tmp_path: Path) -> None:
    from airflow_provider_dualengine import RenderConfig, build_dag

    assert sys.getrecursionlimit() < RENDER_STAGES
    chain = _chain_project(tmp_path / "render", RENDER_STAGES)
    dag = build_dag(chain, render_config=RenderConfig(sqlmesh_model_tasks=False))
    first, last = dag.task_group_dict["stage_0"], dag.task_group_dict[f"stage_{RENDER_STAGES - 1}"]
    assert len(dag.task_group_dict) >= RENDER_STAGES
    assert dag.get_task("stage_0.done").downstream_task_ids == {"stage_1.sqlmesh.run_stage"}
    assert dag.get_task(f"stage_{RENDER_STAGES - 1}.sqlmesh.run_stage").upstream_task_ids == {
        f"stage_{RENDER_STAGES - 2}.done"
    }
    assert first.upstream_task_ids == set() and last.downstream_task_ids == set()
