"""The package's one Airflow cluster, its warehouse connections and the example DAG's run.

- `cluster` (package scope): the cluster a user runs (tests/cluster/: the wheel in a venv,
  PostgreSQL metadata DB, Redis, CeleryExecutor, api-server / scheduler / dag-processor /
  triggerer / celery worker), started without any warehouse connection. It also carries
  what test_concurrent_operation.py needs, because the dag-processor only sees DAG files
  present when it starts: three more checkouts of the example project (`EXTRA_PROJECTS`)
  and a deploy DAG file for each of the four (`SIDES`, `extra_dags`). Stopped right after
  the package's last test; the cost lines ("cluster test cost") are printed then.
- `ensure_duckdb_connection(cluster)`, `ensure_postgres_connection(cluster)`: the
  warehouse connections, created through the REST API (what the UI form does) the first
  time, untouched after.
- `example_run` (package scope): the example DAG triggered, and while it runs an operator
  calls `dualengine deployments` `CLI_CALLS` times; the run, the calls, and what the run
  left in the warehouse (read right after it, before any deployment writes prod into the
  same file). `successful_example_run`: its run, an error for the requesting test unless
  it succeeded.

Import the helpers and constants with `from tests.e2e.on_cluster.conftest import ...`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import AirflowCluster, ClusterError, DagRunResult, build_wheel, install_cluster_venv
from tests.cluster.report import terminal_writer as _reporter

EXAMPLE_DAG = "dualengine_shop_development"
DEPLOY_DAG = "dualengine_shop_production_deploy"
CONN_ID = "dualengine_warehouse"
PG_CONN_ID = "dualengine_warehouse_pg"
PG_DATABASE = "shop"
ENVIRONMENT = "production"
CLI_CALLS = 10

# --------------------------------------------------------------------------- the extra checkouts


def to_v2(project: Path) -> None:
    """The second checkout: 'high' from 500 (dbt) and a redefined summary (SQLMesh), so
    both engines' versions differ and prod shows which one was deployed."""
    mart = project / "dbt" / "models" / "marts" / "customer_value.sql"
    _replace(mart, "when l.lifetime_value >= 1000 then 'high'", "when l.lifetime_value >= 500 then 'high'")
    summary = project / "sqlmesh" / "models" / "reporting" / "value_band_summary.sql"
    _replace(summary, "GROUP BY\n  v.value_band", "GROUP BY\n  v.value_band\nHAVING\n  COUNT(*) > 0")


def to_postgres(project: Path) -> None:
    """The project on the PostgreSQL warehouse connection."""
    settings = project / "dualengine.yml"
    _replace(settings, "type: duckdb", "type: postgres")
    _replace(settings, f"conn_id: {CONN_ID} ", f"conn_id: {PG_CONN_ID} ")


def to_postgres_v2(project: Path) -> None:
    to_postgres(project)
    to_v2(project)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected {old!r} once; the example project changed, update this test"
    path.write_text(text.replace(old, new))


@dataclass(frozen=True)
class Side:
    """One warehouse's pair of deploy DAGs (version -> DAG id, version -> project folder)."""

    kind: str
    conn_id: str
    dags: dict[str, str]
    projects: dict[str, str]

    def other(self, version: str) -> str:
        return "v2" if version == "v1" else "v1"


SIDES = {
    "duckdb": Side(
        "duckdb", CONN_ID, {"v1": "deploy_v1", "v2": "deploy_v2"}, {"v1": "transforms", "v2": "transforms_v2"}
    ),
    "postgres": Side(
        "postgres",
        PG_CONN_ID,
        {"v1": "pg_deploy_v1", "v2": "pg_deploy_v2"},
        {"v1": "transforms_pg", "v2": "transforms_pg_v2"},
    ),
}


def to_windows(project: Path) -> None:
    """The project on a PostgreSQL database of its own (SQLMesh state included: the deploy
    tests' prod and green environments live in `shop`), named `shopwin` (its own pools),
    for test_resources.py; that test writes its execution windows into config/resources.yml."""
    settings = project / "dualengine.yml"
    _replace(settings, "type: duckdb", "type: postgres")
    _replace(settings, f"conn_id: {CONN_ID} ", f"conn_id: {WINDOWS_CONN_ID} ")
    _replace(settings, "name: shop\n", f"name: {WINDOWS_PROJECT}\n")


WINDOWS_PROJECT = "shopwin"
WINDOWS_CONN_ID = "dualengine_warehouse_win"
WINDOWS_DAG = f"dualengine_{WINDOWS_PROJECT}_development"
WINDOWS_TRIGGER = "dualengine-test://windows/trigger"
EXTRA_PROJECTS: dict[str, Callable[[Path], None] | None] = {
    "transforms_v2": to_v2,
    "transforms_pg": to_postgres,
    "transforms_pg_v2": to_postgres_v2,
    "transforms_win": to_windows,
}


def windows_dag_file(project: Path) -> str:
    """A user's DAG file: the project's pipeline, scheduled on an Asset (asset-triggered
    runs are what a maintenance_only window holds), plus its resources DAG."""
    return (
        "from airflow.sdk import Asset\n"
        "from airflow_provider_dualengine import ProjectConfig, build_dag\n"
        "from airflow_provider_dualengine import build_resources_dag\n\n"
        f"pipeline = build_dag(ProjectConfig({str(project)!r}, environment='development', "
        "stages=['stage_1_sqlmesh', 'stage_2_mixed']), "
        f"dag_id={WINDOWS_DAG!r}, "
        f"schedule=[Asset({WINDOWS_TRIGGER!r})], max_active_runs=2)\n"
        f"resources = build_resources_dag({str(project)!r}, airflow_api_conn_id='dualengine_airflow_api')\n"
    )


def deploy_dag_file(dag_id: str, project: Path) -> str:
    """A user's deploy DAG file for `project` (as dags/dualengine_deploy.py, another dag_id)."""
    return (
        "from airflow_provider_dualengine import ProjectConfig, build_deploy_dag\n\n"
        f"{dag_id} = build_deploy_dag(ProjectConfig({str(project)!r}, environment={ENVIRONMENT!r}), dag_id={dag_id!r})\n"
    )


def extra_dags(base: Path) -> dict[str, str]:
    return {
        **{
            f"{dag_id}.py": deploy_dag_file(dag_id, base / side.projects[version])
            for side in SIDES.values()
            for version, dag_id in side.dags.items()
        },
        "dualengine_windows.py": windows_dag_file(base / "transforms_win"),
    }


# Every DAG file in the cluster's dags folder -> the warehouse connection it names.
DAG_FILE_CONNECTIONS = {
    "dualengine_example.py": CONN_ID,
    "dualengine_deploy.py": CONN_ID,
    **{f"{dag_id}.py": side.conn_id for side in SIDES.values() for dag_id in side.dags.values()},
    "dualengine_windows.py": WINDOWS_CONN_ID,
}


# --------------------------------------------------------------------------- the cluster


@pytest.fixture(scope="package")
def cluster(request: pytest.FixtureRequest) -> Iterator[AirflowCluster]:
    """The cluster, started once for this package, without any warehouse connection. Its
    folder (logs, task tables, cost.txt) is not pytest's tmp_path, which a pytest session
    ending elsewhere may clean up while this one still stops its processes; it is removed
    afterwards unless a test failed or $DUALENGINE_CLUSTER_KEEP is set. The venv (~1 GB)
    is always removed unless cached."""
    report = _reporter(request)
    began = time.monotonic()
    failed_before = request.session.testsfailed
    base = Path(tempfile.mkdtemp(prefix="dualengine-cluster-"))
    instance = venv = None
    crashed = False
    try:
        t0 = time.monotonic()
        wheel = build_wheel(base / "dist")
        wheel_seconds = time.monotonic() - t0
        venv = install_cluster_venv(base / "venv", wheel)
        instance = AirflowCluster(
            base,
            venv,
            extra_projects=EXTRA_PROJECTS,
            extra_dags=extra_dags(base),
            # the scheduler finds the windows of a DAG's project here (window priority weights)
            extra_env={"AIRFLOW__DUALENGINE__PROJECTS": f"{base / 'transforms'},{base / 'transforms_win'}"},
        )
        instance.timings["wheel build"] = wheel_seconds
        instance.timings["venv install" + (" (cached venv reused)" if venv.cached else "")] = venv.install_seconds
        instance.start()
        yield instance
    except BaseException:
        crashed = True  # the install or the start failed, or an interrupt
        raise
    finally:
        failed = crashed or request.session.testsfailed > failed_before
        if instance is not None:
            if failed and instance.components:
                report("\n==== cluster diagnostics (a cluster test failed) ====\n" + instance.diagnostics())
            stop_began = time.monotonic()
            instance.stop()
            instance.timings["stop everything"] = time.monotonic() - stop_began
        if venv is not None:
            venv.remove()
        timings = instance.timings if instance is not None else {}
        lines = [f"  {label:<74} {seconds:7.1f} s" for label, seconds in timings.items()]
        lines.append(
            f"  {'total (fixture start to everything stopped and removed)':<74} {time.monotonic() - began:7.1f} s"
        )
        (base / "cost.txt").write_text("\n".join(lines) + "\n")
        keep = failed or bool(os.environ.get("DUALENGINE_CLUSTER_KEEP"))
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
        report("\n==== cluster test cost ====\n" + "\n".join(lines) + (f"\n  kept: {base}" if keep else ""))


# --------------------------------------------------------------------------- the warehouse connections


def connection_exists(cluster: AirflowCluster, conn_id: str) -> bool:
    try:
        cluster.api("GET", f"/api/v2/connections/{conn_id}")
    except ClusterError as exc:
        if "HTTP 404" in str(exc):
            return False
        raise
    return True


def ensure_duckdb_connection(cluster: AirflowCluster) -> None:
    """The README's warehouse connection (the DuckDB file `cluster.warehouse`), created
    through the REST API as the UI form does, unless it exists. The DAG files naming it
    parse at the dag-processor's next pass (`cluster.wait_for_dag`)."""
    if not connection_exists(cluster, CONN_ID):
        cluster.create_connection({"connection_id": CONN_ID, "conn_type": "duckdb", "host": str(cluster.warehouse)})


def ensure_postgres_connection(cluster: AirflowCluster, conn_id: str = PG_CONN_ID, database: str = PG_DATABASE) -> None:
    """A PostgreSQL warehouse: database `shop` on the metadata DB's server and the
    connection `dualengine_warehouse_pg` to it (or the ones named), each created unless it exists."""
    if connection_exists(cluster, conn_id):
        return
    pg = cluster.postgres
    with cluster.timed(f"PostgreSQL warehouse {database}: database + connection"):
        db = pg.connect(autocommit=True)
        try:
            with db.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                exists = cursor.fetchone() is not None
        finally:
            db.close()
        if not exists:
            pg.create_database(database)
        cluster.create_connection(
            {
                "connection_id": conn_id,
                "conn_type": "postgres",
                "host": pg.host,
                "port": pg.port,
                "login": pg.user,
                "password": pg.password,
                "schema": database,
            }
        )


# --------------------------------------------------------------------------- the example DAG's run

# What the example run leaves in the warehouse, as value checks in SQLMesh's environment
# suffix `{s}` and dbt's schema `{dbt}` (the same checks hold in prod after a deployment).
VALUE_QUERIES = {
    # what SQLMesh staging implies for each customer, and what the dbt mart holds
    "implied": """
        SELECT c.customer_id, count(o.order_id), coalesce(sum(o.amount), 0)
        FROM staging{s}.customer_enhanced c
        LEFT JOIN staging{s}.stg_orders o ON o.customer_id = c.customer_id AND o.status = 'completed'
        GROUP BY 1 ORDER BY 1""",
    "mart": "SELECT customer_id, order_count, total_amount FROM {dbt}.customer_order_summary ORDER BY 1",
    "value_rows": "SELECT count(*) FROM {dbt}.customer_value",
    # the stage-2 SQLMesh model feeds the stage-3 dbt mart
    "lifetime_mismatch": """
        SELECT count(*) FROM {dbt}.customer_value v
        JOIN intermediate{s}.customer_lifetime l USING (customer_id)
        WHERE v.lifetime_value <> l.lifetime_value""",
    "lifetime_joined": "SELECT count(*) FROM {dbt}.customer_value v JOIN intermediate{s}.customer_lifetime l USING (customer_id)",
    # and back: the stage-4 SQLMesh model reads the dbt mart of the same environment
    "bands": "SELECT value_band, count(*), sum(lifetime_value) FROM {dbt}.customer_value GROUP BY 1 ORDER BY 1",
    "band_summary": "SELECT value_band, customers, lifetime_value FROM reporting{s}.value_band_summary ORDER BY 1",
}
CATALOG_QUERIES = {
    "views": "SELECT table_schema || '.' || table_name FROM information_schema.tables WHERE table_type = 'VIEW'",
    "schemas": "SELECT schema_name FROM information_schema.schemata",
}


def value_queries(sqlmesh_suffix: str, dbt_schema: str) -> dict[str, str]:
    return {name: sql.format(s=sqlmesh_suffix, dbt=dbt_schema) for name, sql in VALUE_QUERIES.items()}


def report_run(cluster: AirflowCluster, run: DagRunResult, request: pytest.FixtureRequest) -> None:
    """The run's summary and slowest tasks on the terminal; every task in <dag_id>.tasks.txt."""
    table = cluster.base / f"{run.dag_id}.tasks.txt"
    table.write_text(run.table() + "\n")
    slowest = sorted((t for t in run.tasks if t.duration), key=lambda t: -t.duration)[:5]
    _reporter(request)(
        f"\n{run.summary()}\n  slowest: "
        + ", ".join(f"{t.task_id} {t.duration:.1f} s" for t in slowest)
        + f"\n  every task: {table.name} (kept when a test fails or $DUALENGINE_CLUSTER_KEEP is set)"
    )


@dataclass(frozen=True)
class CliCall:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    run_state_after: str  # the pipeline run's state when the call had returned


@dataclass(frozen=True)
class ExampleRun:
    run: DagRunResult
    cli_calls: list[CliCall]  # `dualengine deployments` while the run was going
    # VALUE_QUERIES in dev and CATALOG_QUERIES, read right after a successful run ({} otherwise)
    dev: dict[str, list[list[Any]]]


def wait_for_the_warehouse_in_use(cluster: AirflowCluster, dag_id: str, run_id: str, timeout: float = 180) -> None:
    """Until the run's first warehouse task has created the DuckDB file and a task is running:
    before that the CLI rightly says the file does not exist (exit 1), which is not what the
    CLI calls are there for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster.check_components()
        if cluster.warehouse.exists() and any(t.state == "running" for t in cluster.task_instances(dag_id, run_id)):
            return
        if cluster.run_state(dag_id, run_id) in ("success", "failed"):
            return
        time.sleep(0.5)
    raise ClusterError(
        f"{dag_id} {run_id}: no task running on {cluster.warehouse} after {timeout:.0f} s\n{cluster.diagnostics()}"
    )


@pytest.fixture(scope="package")
def example_run(cluster: AirflowCluster, request: pytest.FixtureRequest) -> ExampleRun:
    """The example DAG triggered through the REST API (the DuckDB connection created first if
    missing), and once a task works on the warehouse file, `dualengine deployments` called
    CLI_CALLS times a second apart, as an operator on a cluster machine would; then the run
    waited for. The tests assert on its outcome."""
    ensure_duckdb_connection(cluster)
    with cluster.timed(
        f"{EXAMPLE_DAG}: parsed?, unpause, trigger, run; {CLI_CALLS} `dualengine deployments` meanwhile"
    ):
        cluster.wait_for_dag(EXAMPLE_DAG)
        cluster.unpause(EXAMPLE_DAG)
        began = time.monotonic()
        run_id = cluster.trigger(EXAMPLE_DAG)
        calls: list[CliCall] = []
        wait_for_the_warehouse_in_use(cluster, EXAMPLE_DAG, run_id)
        for _ in range(CLI_CALLS):
            t0 = time.monotonic()
            done = cluster.cli(
                "dualengine", "deployments", str(cluster.project), "-e", ENVIRONMENT, check=False, timeout=120
            )
            seconds = time.monotonic() - t0
            calls.append(
                CliCall(done.returncode, done.stdout, done.stderr, seconds, cluster.run_state(EXAMPLE_DAG, run_id))
            )
            time.sleep(1)
        run = cluster.wait_for_run(EXAMPLE_DAG, run_id, timeout=1200, began=began)
    report_run(cluster, run, request)
    # read before a deploy DAG writes prod into the same file
    dev = (
        cluster.warehouse_query({**value_queries("__dev", "analytics_dev"), **CATALOG_QUERIES})
        if run.state == "success"
        else {}
    )
    return ExampleRun(run, calls, dev)


@pytest.fixture(scope="package")
def successful_example_run(cluster: AirflowCluster, example_run: ExampleRun) -> DagRunResult:
    """The example run, for tests that only need one that succeeded: unless it did, each
    test asking for it errors with the run's summary and the cluster's diagnostics."""
    run = example_run.run
    if run.state != "success":
        pytest.fail(f"the example DAG's run did not succeed: {run.summary()}\n{cluster.diagnostics(run)}")
    return run
