"""The example project in a real Airflow cluster, the way a user runs it.

The provider's wheel in a fresh venv (the Docker image's install recipe), PostgreSQL
metadata DB, Redis, CeleryExecutor, api-server / scheduler / dag-processor / triggerer /
celery worker as separate processes: the package's cluster (conftest.py), which this
module finds without any warehouse connection. Everything is done as the README's
"Running in an Airflow cluster" section says, the warehouse connection through the REST
API (what the UI form does); the example DAG (the package's `example_run`, during which an
operator lists deployments; test_concurrent_operation.py checks those calls) and then the
production deploy DAG are triggered through the REST API and checked by their task states,
the warehouse's values, the Asset events, the deployment record and `dualengine
deployments` run against the cluster's metadata DB. Cost on 2 cores: the package's
"cluster test cost" lines.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest

from tests.cluster import AirflowCluster, ClusterError, DagRunResult
from tests.e2e.on_cluster.conftest import (
    CATALOG_QUERIES,
    CONN_ID,
    DAG_FILE_CONNECTIONS,
    DEPLOY_DAG,
    EXAMPLE_DAG,
    VALUE_QUERIES,
    ExampleRun,
    connection_exists,
    ensure_duckdb_connection,
    report_run,
    value_queries,
)
from tests.example_models import EXAMPLE_DBT_MODELS, EXAMPLE_SQLMESH_MODELS

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.timeout(2400)]

SQLMESH_MODELS = EXAMPLE_SQLMESH_MODELS
DBT_MODELS = EXAMPLE_DBT_MODELS
DEV_VIEWS = {f"{m.split('.')[0]}__dev.{m.split('.')[1]}" for m in SQLMESH_MODELS}


def numbers(rows: list[list]) -> list[tuple]:
    """Rows with every number as a Decimal (DuckDB's DECIMAL and DOUBLE compare equal)."""
    return [tuple(_number(v) for v in row) for row in rows]


def _number(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def assert_run_succeeded(cluster: AirflowCluster, run: DagRunResult) -> None:
    not_ok = {t: s for t, s in run.states.items() if s != "success"}
    assert run.state == "success" and not not_ok, (
        f"{run.summary()}\nnot successful: {not_ok}\n{cluster.diagnostics(run)}"
    )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def parsed_without_connection(cluster: AirflowCluster) -> dict[str, str]:
    """A running cluster without the warehouse connection, as a new user has it: the DAG
    files name their models' Assets after the warehouse, so the UI shows an import error
    saying what to create (the DAG is never half-built) - for the example DAG files and for
    the package's extra deploy DAG files alike (two of those name the PostgreSQL connection,
    created later by test_concurrent_operation.py). Then the README's connection, created as
    the UI form does it (the REST API); the next parse shows the DAGs. Returns the import
    errors seen before."""
    if connection_exists(cluster, CONN_ID):
        pytest.fail(f"the package's cluster already has {CONN_ID}: run this module's tests before the others")
    with cluster.timed("import errors without the connection, then the connection, then the DAGs parsed"):
        errors = cluster.wait_for_import_errors(set(DAG_FILE_CONNECTIONS))
        ensure_duckdb_connection(cluster)
        for dag_id in (EXAMPLE_DAG, DEPLOY_DAG):
            cluster.wait_for_dag(dag_id)
    return errors


@pytest.fixture(scope="module")
def example(example_run: ExampleRun) -> tuple[DagRunResult, dict]:
    """The package's example run (conftest.py) and what it left in dev, read right after it."""
    return example_run.run, example_run.dev


@pytest.fixture(scope="module")
def deploy_run(cluster: AirflowCluster, example, request: pytest.FixtureRequest) -> tuple[DagRunResult, dict]:
    with cluster.timed(f"{DEPLOY_DAG}: parsed?, unpause, trigger, run"):
        run = cluster.run_dag(DEPLOY_DAG, timeout=1200)
    report_run(cluster, run, request)
    snapshot = (
        cluster.warehouse_query({**value_queries("", "analytics"), **CATALOG_QUERIES}) if run.state == "success" else {}
    )
    return run, snapshot


# --------------------------------------------------------------------------- the connection


def test_before_the_connection_exists_the_ui_says_what_to_create(parsed_without_connection: dict[str, str]) -> None:
    # the example's two DAG files and the four extra deploy DAG files, each naming its connection
    assert {Path(name).name for name in parsed_without_connection} == set(DAG_FILE_CONNECTIONS)
    assert len(DAG_FILE_CONNECTIONS) == 7
    for name, text in parsed_without_connection.items():
        conn_id = DAG_FILE_CONNECTIONS[Path(name).name]
        assert f"warehouse.conn_id: Airflow connection '{conn_id}' not found." in text, (name, text)
        assert f"airflow connections add {conn_id} --conn-type duckdb --conn-host" in text, (name, text)


def test_warehouse_connection_is_a_duckdb_connection_in_the_metadata_db(
    cluster: AirflowCluster, parsed_without_connection
) -> None:
    stored = cluster.api("GET", f"/api/v2/connections/{CONN_ID}")
    assert (stored["conn_type"], stored["host"]) == ("duckdb", str(cluster.warehouse))
    # the UI's connection form offers the type (registered by the provider; the form reads this UI endpoint)
    types = {meta["connection_type"] for meta in cluster.api("GET", "/ui/connections/hook_meta")}
    assert "duckdb" in types, sorted(types)
    # the README's command stores the same (the CLI would store an unregistered type as `generic`)
    cluster.cli(
        "airflow",
        "connections",
        "add",
        "readme_command_check",
        "--conn-type",
        "duckdb",
        "--conn-host",
        str(cluster.warehouse),
    )
    by_cli = cluster.api("GET", "/api/v2/connections/readme_command_check")
    assert (by_cli["conn_type"], by_cli["host"]) == ("duckdb", str(cluster.warehouse))
    cluster.api("DELETE", "/api/v2/connections/readme_command_check", expect=(204,))
    # nothing else could supply it: no AIRFLOW_CONN_* in the components' environment
    assert not [k for k in cluster.env if k.startswith("AIRFLOW_CONN_")]


# --------------------------------------------------------------------------- the example DAG


def test_example_dag_every_task_succeeds(cluster: AirflowCluster, example) -> None:
    run, _ = example
    assert_run_succeeded(cluster, run)
    # sensor, contract validation, 3 SQLMesh executors + 6 model tasks, 2 dbt builds + 4 model
    # tasks, 3 contract checks, 4 stage join points
    # 10 models, their engines' stage tasks, contracts, joins, and a window gate before each stage's dbt work
    assert len(run.tasks) == 26, sorted(run.states)


def test_example_marts_equal_what_sqlmesh_staging_implies(example) -> None:
    run, rows = example
    assert run.state == "success", run.summary()
    assert len(rows["mart"]) == 50
    assert numbers(rows["mart"]) == numbers(rows["implied"])
    assert sum(total for _, _, total in numbers(rows["mart"])) > 0
    assert rows["value_rows"] == [[50]]
    assert rows["lifetime_joined"] == [[50]] and rows["lifetime_mismatch"] == [[0]]
    assert numbers(rows["band_summary"]) == numbers(rows["bands"])
    assert sum(n for _, n, _ in numbers(rows["band_summary"])) == 50


def test_example_builds_dev_views_and_leaves_prod_alone(example) -> None:
    run, rows = example
    assert run.state == "success", run.summary()
    views = {v for [v] in rows["views"]}
    schemas = {s for [s] in rows["schemas"]}
    assert DEV_VIEWS <= views, sorted(DEV_VIEWS - views)
    assert not {"raw", "staging", "intermediate", "reporting", "analytics"} & schemas, sorted(schemas)


def test_example_assets_named_like_cosmos_for_both_engines(cluster: AirflowCluster, example) -> None:
    from airflow.sdk import Asset

    run, _ = example
    assert run.state == "success", run.summary()
    base = Asset(f"duckdb://{cluster.warehouse}/shop").uri  # Airflow normalises duckdb:///x to duckdb:/x
    by_task = {e["source_task_id"]: e["uri"] for e in run.asset_events}
    assert by_task["stage_1_sqlmesh.sqlmesh.staging__customer_enhanced"] == f"{base}/staging__dev/customer_enhanced"
    assert (
        by_task["stage_2_mixed.sqlmesh.intermediate__customer_lifetime"]
        == f"{base}/intermediate__dev/customer_lifetime"
    )
    assert by_task["stage_3_dbt.dbt.customer_value"] == f"{base}/analytics_dev/customer_value"
    # every model of either engine has an event of its table, in one namespace
    expected = {f"{base}/{m.split('.')[0]}__dev/{m.split('.')[1]}" for m in SQLMESH_MODELS} | {
        f"{base}/analytics_dev/{m}" for m in DBT_MODELS
    }
    uris = {e["uri"] for e in run.asset_events}
    assert expected <= uris, sorted(expected - uris)
    # one event per model and run (Cosmos' own alias emission would add a second for dbt);
    # the contract checks add theirs to the producers' tables, with the report
    built = [e["uri"] for e in run.asset_events if ".contract__" not in e["source_task_id"]]
    assert sorted(built) == sorted(expected), sorted(built)


# --------------------------------------------------------------------------- the deploy DAG


def test_deploy_dag_every_task_succeeds_and_prod_equals_what_dev_built(
    cluster: AirflowCluster, example, deploy_run
) -> None:
    run, prod = deploy_run
    assert_run_succeeded(cluster, run)
    _, dev = example
    views = {v for [v] in prod["views"]}
    assert set(SQLMESH_MODELS) <= views, sorted(set(SQLMESH_MODELS) - views)
    assert {f"analytics.{m}" for m in DBT_MODELS} <= views  # dbt's live views over the promoted slot
    # the same code on the same data: prod holds what the example DAG built in dev
    for name in VALUE_QUERIES:
        assert numbers(prod[name]) == numbers(dev[name]), name


def test_promotion_emits_an_asset_event_for_every_prod_table(cluster: AirflowCluster, deploy_run) -> None:
    """Consumers scheduled on the prod tables' Assets hear of the deployment."""
    from airflow.sdk import Asset

    run, _ = deploy_run
    assert run.state == "success", run.summary()
    base = Asset(f"duckdb://{cluster.warehouse}/shop").uri
    expected = {f"{base}/{m.replace('.', '/')}" for m in SQLMESH_MODELS} | {f"{base}/analytics/{m}" for m in DBT_MODELS}
    promoted = {e["uri"] for e in run.asset_events if e["source_task_id"] == "promotion.promote"}
    assert promoted == expected, (sorted(expected - promoted), sorted(promoted - expected))
    # green relations (the idle dbt slot, SQLMesh's <env>_green views) are nobody's input: no events
    assert {e["source_task_id"] for e in run.asset_events} == {"promotion.promote"}, sorted(
        {e["uri"] for e in run.asset_events} - expected
    )


def test_deployment_record_through_the_cli_and_the_clusters_connection(cluster: AirflowCluster, deploy_run) -> None:
    """`dualengine deployments` on the cluster machine: the connection exists only in the
    metadata DB, found through the cluster's Airflow configuration."""
    run, _ = deploy_run
    assert run.state == "success", run.summary()
    listing = cluster.cli("dualengine", "deployments", str(cluster.project), "-e", "production", "--json", check=False)
    assert listing.returncode == 0, f"exit {listing.returncode}\n{listing.stdout[-3000:]}\n{listing.stderr[-5000:]}"
    [record] = json.loads(listing.stdout)
    assert record["status"] == "succeeded" and record["environment"] == "production"
    assert record["details"]["summary"].startswith("succeeded: prod switched in "), record["details"]
    assert [(s["stage"], s["outcome"]) for s in record["stages"]] == [
        ("integration_validation", "passed"),
        ("production_promotion", "started"),
        ("production_promotion", "committed"),
    ]
    assert len(record["sqlmesh_version"]) == 12 and record["dbt_version"].startswith("analytics__blue@")
    assert record["triggered_by"], record


def test_assets_name_the_tasks_that_produce_them(cluster: AirflowCluster, example, deploy_run) -> None:
    """The UI's Asset page lists the producing tasks: each model task (and `promote`, for the
    prod tables) declares its table's Asset, named from the warehouse connection when the
    DAG file is parsed."""
    (run, _), (deploy, _) = example, deploy_run
    assets = cluster.api("GET", "/api/v2/assets", params={"limit": 1000})["assets"]
    producers = {a["uri"]: {(p["dag_id"], p["task_id"]) for p in a["producing_tasks"]} for a in assets}
    expected = {
        (e["uri"], (EXAMPLE_DAG, e["source_task_id"]))
        for e in run.asset_events
        if ".contract__" not in e["source_task_id"]
    }
    expected |= {
        (e["uri"], (DEPLOY_DAG, e["source_task_id"]))
        for e in deploy.asset_events
        if e["source_task_id"] == "promotion.promote"
    }
    assert len(expected) == 20, sorted(expected)  # 10 model tasks in dev, 10 prod tables promoted
    missing = sorted((uri, task) for uri, task in expected if task not in producers.get(uri, set()))
    assert not missing, f"Assets that do not list their producing task: {missing}"


def test_cluster_processes_stayed_up(cluster: AirflowCluster, deploy_run) -> None:
    try:
        cluster.check_components()
    except ClusterError as exc:
        pytest.fail(str(exc))
