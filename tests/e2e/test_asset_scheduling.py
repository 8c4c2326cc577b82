"""Event-driven across engines: a dbt DAG scheduled on SQLMesh models' Assets and a SQLMesh
DAG scheduled on a dbt model's Asset, with real runs in between (DuckDB, dag.test)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import TEST_DAGS_FOLDER


def _dag_file(dag_id: str, project: Path, stages: list[str], schedule_on: list[str] | None = None) -> str:
    # paused DAGs are never queued by asset events; new DAGs start paused by default
    schedule = (
        f", schedule=model_assets({schedule_on!r}, {str(project)!r}), is_paused_upon_creation=False"
        if schedule_on
        else ""
    )
    return (
        "# airflow dag file written by a test\nfrom airflow_provider_dualengine import ProjectConfig, build_dag, model_assets\n"
        f"dag = build_dag(ProjectConfig({str(project)!r}, stages={stages!r}), dag_id={dag_id!r}{schedule})\n"
    )


def _queued(dag_id: str) -> set[str]:
    """Assets with an event waiting to trigger `dag_id` (Airflow's asset_dag_run_queue)."""
    from airflow.models.asset import AssetDagRunQueue, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(
            session.scalars(
                select(AssetModel.uri)
                .join(AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id)
                .where(AssetDagRunQueue.target_dag_id == dag_id)
            )
        )


def _run(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(TEST_DAGS_FOLDER / f"{dag_id}.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags[dag_id].test()


@pytest.mark.e2e
def test_consumer_dags_fire_on_the_other_engines_model_assets(
    project_copy: Path, metadata_db: Path, duckdb_warehouse: Path
) -> None:
    from airflow.sdk import Asset

    project = project_copy
    files = {
        "assets_sqlmesh_producer": _dag_file("assets_sqlmesh_producer", project, ["stage_1_sqlmesh", "stage_2_mixed"]),
        "assets_dbt_marts": _dag_file(
            "assets_dbt_marts",
            project,
            ["stage_3_dbt"],
            ["intermediate.customer_lifetime", "stg_customers", "stg_completed_orders"],
        ),
        "assets_sqlmesh_reporting": _dag_file(
            "assets_sqlmesh_reporting", project, ["stage_4_sqlmesh_reporting"], ["dbt:customer_value"]
        ),
    }
    for dag_id, source in files.items():
        (TEST_DAGS_FOLDER / f"{dag_id}.py").write_text(source)
    try:
        base = Asset(f"duckdb://{duckdb_warehouse}/shop").uri
        # 1. SQLMesh (+ stage-2 dbt) producer run (dag.test first syncs the folder's DAGs,
        #    consumers included): the dbt marts DAG is queued on its inputs
        run = _run("assets_sqlmesh_producer")
        assert str(run.state) == "success"
        assert _queued("assets_dbt_marts") == {
            f"{base}/intermediate__dev/customer_lifetime",  # a SQLMesh model (emitted by our model task)
            f"{base}/analytics_dev/stg_customers",  # dbt models of the same run (emitted by Cosmos)
            f"{base}/analytics_dev/stg_completed_orders",
        }
        assert _queued("assets_sqlmesh_reporting") == set()

        # 2. the dbt marts run: the SQLMesh reporting DAG is queued on the dbt mart it reads
        run = _run("assets_dbt_marts")
        assert str(run.state) == "success"
        assert _queued("assets_sqlmesh_reporting") == {f"{base}/analytics_dev/customer_value"}

        # 3. the SQLMesh consumer reads what the dbt DAG built
        run = _run("assets_sqlmesh_reporting")
        assert str(run.state) == "success"
    finally:
        for dag_id in files:
            (TEST_DAGS_FOLDER / f"{dag_id}.py").unlink(missing_ok=True)
    with duckdb.connect(str(duckdb_warehouse)) as db:  # same settings as the tasks (one process)
        assert db.execute("SELECT sum(customers) FROM reporting__dev.value_band_summary").fetchone()[0] == 50
