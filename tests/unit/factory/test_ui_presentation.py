"""What the Airflow 3 UI shows of our DAGs: which tasks produce which Assets, and how the
graph view tells SQLMesh from dbt work (it draws no operator colours; it shows group
labels, tooltips and each task's operator name)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DAGS_FOLDER

WAREHOUSE = "/data/shop.duckdb"


@pytest.fixture(scope="module")
def synced_bag(example_project: Path, metadata_db: Path):
    """The repo's DAG files parsed and written to the metadata DB, as the DAG processor does."""
    import os

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    previous = os.environ.get("AIRFLOW_CONN_DUALENGINE_WAREHOUSE")
    os.environ["AIRFLOW_CONN_DUALENGINE_WAREHOUSE"] = json.dumps({"conn_type": "duckdb", "host": WAREHOUSE})
    try:
        bag = DagBag(dag_folder=str(DAGS_FOLDER), bundle_name="dags-folder")
        assert bag.import_errors == {}
        DagBundlesManager().sync_bundles_to_db()
        sync_bag_to_db(bag, "dags-folder", None)
        yield bag
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", None)
        else:
            os.environ["AIRFLOW_CONN_DUALENGINE_WAREHOUSE"] = previous


def _producers(uri: str) -> set[tuple[str, str]]:
    """(dag_id, task_id) Airflow lists under "Producing tasks" on the Asset's page."""
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        asset = session.scalar(select(AssetModel).where(AssetModel.uri == uri))
        assert asset is not None, f"no Asset {uri} in the metadata DB"
        return {(ref.dag_id, ref.task_id) for ref in asset.producing_tasks}


def test_model_assets_list_the_tasks_that_build_them(synced_bag) -> None:
    base = f"duckdb:{WAREHOUSE}/shop"
    dev = "dualengine_shop_development"
    assert _producers(f"{base}/staging__dev/customer_enhanced") == {
        (dev, "stage_1_sqlmesh.sqlmesh.staging__customer_enhanced")
    }
    assert _producers(f"{base}/analytics_dev/customer_value") == {(dev, "stage_3_dbt.dbt.customer_value")}


def test_prod_tables_are_produced_by_promotion_and_rollback(synced_bag) -> None:
    base = f"duckdb:{WAREHOUSE}/shop"
    for table in ("intermediate/customer_lifetime", "analytics/customer_value"):
        assert _producers(f"{base}/{table}") == {
            ("dualengine_shop_production_deploy", "promotion.promote"),
            ("dualengine_shop_production_rollback", "rollback"),
        }


def test_dbt_tasks_do_not_emit_their_asset_a_second_time(synced_bag) -> None:
    task = synced_bag.dags["dualengine_shop_development"].get_task("stage_3_dbt.dbt.customer_value")
    build = synced_bag.dags["dualengine_shop_development"].get_task("stage_3_dbt.dbt.build_stage")
    assert build.outlets == []  # the stage's build emits nothing: each model's task emits its own
    assert [o.uri for o in task.outlets if hasattr(o, "uri")] == [
        f"duckdb:{WAREHOUSE}/shop/analytics_dev/customer_value"
    ]


def test_graph_view_tells_the_engines_apart(synced_bag) -> None:
    from airflow.api_fastapi.core_api.services.ui.task_group import task_group_to_dict
    from airflow.models.serialized_dag import SerializedDagModel

    dag = SerializedDagModel.get_dag("dualengine_shop_development")
    nodes: dict[str, dict] = {}

    def walk(node: dict) -> None:
        nodes[node["id"]] = node
        for child in node.get("children") or []:
            walk(child)

    walk(task_group_to_dict(dag.task_group))
    assert nodes["stage_2_mixed.sqlmesh"]["label"] == "SQLMesh · 1 model"
    assert nodes["stage_2_mixed.dbt"]["label"] == "dbt · 2 models"
    assert nodes["stage_1_sqlmesh.sqlmesh"]["label"] == "SQLMesh · 4 models"
    assert "plan into 'dev'" in nodes["stage_1_sqlmesh.sqlmesh"]["tooltip"]
    assert nodes["stage_1_sqlmesh.sqlmesh.run_stage"]["operator"] == "SQLMesh plan"
    assert nodes["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"]["operator"] == "SQLMesh model"
    assert nodes["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"]["label"] == "staging.customer_enhanced"
    assert nodes["stage_3_dbt.dbt.customer_value"]["operator"] == "dbt model"
    assert nodes["stage_3_dbt.dbt.build_stage"]["operator"] == "dbt build"
    assert nodes["stage_1_sqlmesh.contract__staging__customer_enhanced"]["operator"] == "Data contract check"
