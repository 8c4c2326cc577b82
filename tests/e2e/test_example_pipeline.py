"""The example DAG end to end: real Airflow (dag.test), real SQLMesh, real dbt via Cosmos, DuckDB."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DAGS_FOLDER

SQLMESH_VIEWS = {
    "raw__dev.raw_customers",
    "raw__dev.raw_orders",
    "staging__dev.stg_orders",
    "staging__dev.customer_enhanced",
    "intermediate__dev.customer_lifetime",
    "reporting__dev.value_band_summary",
}


@pytest.fixture(scope="module")
def finished_run(example_project: Path, metadata_db: Path, tmp_path_factory: pytest.TempPathFactory):
    import json
    import os

    from airflow.dag_processing.dagbag import DagBag

    from airflow_provider_dualengine.cli.local_airflow import ensure_pool

    warehouse = tmp_path_factory.mktemp("e2e") / "shop.duckdb"
    previous = os.environ.get("AIRFLOW_CONN_DUALENGINE_WAREHOUSE")
    os.environ["AIRFLOW_CONN_DUALENGINE_WAREHOUSE"] = json.dumps({"conn_type": "duckdb", "host": str(warehouse)})
    try:
        ensure_pool("dualengine_warehouse")
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
        assert bag.import_errors == {}
        run = bag.dags["dualengine_shop_development"].test()
        yield run, warehouse
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", None)
        else:
            os.environ["AIRFLOW_CONN_DUALENGINE_WAREHOUSE"] = previous


@pytest.mark.e2e
def test_every_task_succeeds(finished_run) -> None:
    run, _ = finished_run
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    # sensor, contract validation, 3 SQLMesh executors + 6 model tasks, 8 dbt tasks,
    # 3 contract checks, 4 stage join points
    assert len(states) == 26
    assert set(states.values()) == {"success"}


@pytest.mark.e2e
def test_mart_totals_equal_what_sqlmesh_staging_implies(finished_run) -> None:
    _, warehouse = finished_run
    with duckdb.connect(str(warehouse)) as db:
        expected = {
            cid: (count, total)
            for cid, count, total in db.execute(
                """
                SELECT c.customer_id, count(o.order_id), coalesce(sum(o.amount), 0)
                FROM staging__dev.customer_enhanced c
                LEFT JOIN staging__dev.stg_orders o ON o.customer_id = c.customer_id AND o.status = 'completed'
                GROUP BY 1
                """
            ).fetchall()
        }
        actual = {cid: (count, total) for cid, count, total in db.execute("SELECT customer_id, order_count, total_amount FROM analytics_dev.customer_order_summary").fetchall()}
        assert len(actual) == 50
        assert actual == expected
        assert sum(Decimal(str(total)) for _, total in actual.values()) > 0
        # the stage-2 SQLMesh model feeds the stage-3 dbt mart
        mismatched = db.execute(
            """
            SELECT count(*) FROM analytics_dev.customer_value v
            JOIN intermediate__dev.customer_lifetime l USING (customer_id)
            WHERE v.lifetime_value <> l.lifetime_value
            """
        ).fetchone()[0]
        assert mismatched == 0
        assert db.execute("SELECT count(*) FROM analytics_dev.customer_value").fetchone()[0] == 50
        # and back: the stage-4 SQLMesh model reads the dbt mart of the same environment
        bands = db.execute("SELECT value_band, count(*), sum(lifetime_value) FROM analytics_dev.customer_value GROUP BY 1 ORDER BY 1").fetchall()
        summary = db.execute("SELECT value_band, customers, lifetime_value FROM reporting__dev.value_band_summary ORDER BY 1").fetchall()
        assert summary == bands and sum(n for _, n, _ in summary) == 50


@pytest.mark.e2e
def test_sqlmesh_dev_views_exist_and_prod_is_untouched(finished_run) -> None:
    _, warehouse = finished_run
    with duckdb.connect(str(warehouse)) as db:
        views = {f"{s}.{t}" for s, t in db.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'VIEW'").fetchall()}
        schemas = {r[0] for r in db.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
    assert SQLMESH_VIEWS <= views
    assert not {"raw", "staging", "intermediate", "analytics"} & schemas  # the DAG built dev only


@pytest.mark.e2e
def test_sqlmesh_model_tasks_emit_assets_named_like_cosmos(finished_run) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run, warehouse = finished_run
    with create_session() as session:
        rows = session.execute(select(AssetModel.uri, AssetEvent.source_task_id).join(AssetEvent, AssetEvent.asset_id == AssetModel.id).where(AssetEvent.source_run_id == run.run_id)).all()
    by_task = {task: uri for uri, task in rows}
    from airflow.sdk import Asset

    base = Asset(f"duckdb://{warehouse}/shop").uri  # Airflow normalises duckdb:///x to duckdb:/x
    assert by_task["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"] == f"{base}/staging__dev/customer_enhanced"
    assert by_task["stage_2_mixed.sqlmesh.intermediate__customer_lifetime"] == f"{base}/intermediate__dev/customer_lifetime"
    # dbt models' Assets come from Cosmos in the same namespace: one lineage for both engines
    assert by_task["stage_3_dbt.dbt.customer_value.run"] == f"{base}/analytics_dev/customer_value"
