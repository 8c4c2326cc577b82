"""Blue-green deployment across both engines, proved by real dag.test() runs.

Every scenario checks prod by checksums of each prod relation (SQLMesh prod views and
dbt live views): after a failure prod equals its checksums from before, after a success
it equals green, and never anything in between.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.example_models import EXAMPLE_DBT_MODELS, EXAMPLE_SQLMESH_MODELS
from tests.warehouses import Warehouse, duckdb_warehouse, postgres_warehouse

SQLMESH_PROD = EXAMPLE_SQLMESH_MODELS
DBT_PROD = [f"analytics.{m}" for m in EXAMPLE_DBT_MODELS]
PROD = SQLMESH_PROD + DBT_PROD


def deploy_source(dag_id: str, project: Path, **kwargs) -> str:
    args = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return f"import datetime\nfrom airflow_provider_dualengine import ProjectConfig, build_deploy_dag\ndag = build_deploy_dag(ProjectConfig({str(project)!r}, environment='production'), dag_id={dag_id!r}{args})\n"


def rollback_source(dag_id: str, project: Path) -> str:
    return f"from airflow_provider_dualengine import ProjectConfig, build_rollback_dag\ndag = build_rollback_dag(ProjectConfig({str(project)!r}, environment='production'), dag_id={dag_id!r})\n"


def prod_checksums(warehouse: Warehouse) -> dict[str, tuple | None]:
    present = warehouse.views()
    return {rel: warehouse.checksum(rel) if rel in present else None for rel in PROD}


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def records(warehouse: Warehouse) -> list[tuple]:
    return warehouse.query("SELECT id, status, details FROM dualengine.deployments ORDER BY started_at")


def write_v2(project: Path) -> None:
    """A change in both engines: dbt's value bands move, SQLMesh's summary is redefined."""
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    mart = project / "dbt" / "models" / "marts" / "customer_value.sql"
    mart.write_text(mart.read_text().replace(">= 300 then 'medium'", ">= 250 then 'medium'"))
    summary = project / "sqlmesh" / "models" / "reporting" / "value_band_summary.sql"
    summary.write_text(
        summary.read_text().replace("GROUP BY\n  v.value_band", "GROUP BY\n  v.value_band\nHAVING\n  COUNT(*) > 0")
    )
    compile_project(load_project(project))


def inject_sqlmesh_failure(monkeypatch) -> None:
    from airflow_provider_dualengine.operators.sqlmesh import SQLMeshModelsFailed, SQLMeshPlanOperator

    original = SQLMeshPlanOperator.execute

    def failing(self, context):
        if self.task_id.startswith("staging_deployment.stage_2_mixed"):
            raise SQLMeshModelsFailed("injected: intermediate.customer_lifetime failed")
        return original(self, context)

    monkeypatch.setattr(SQLMeshPlanOperator, "execute", failing)


def inject_dbt_failure(monkeypatch) -> None:
    from airflow_provider_dualengine.operators.dbt import DbtBuildOperator

    original = DbtBuildOperator.execute

    def failing(self, context):
        if self.task_id == "staging_deployment.stage_3_dbt.dbt.build_stage":
            raise RuntimeError("injected: dbt build of customer_value failed")
        return original(self, context)

    monkeypatch.setattr(DbtBuildOperator, "execute", failing)


def inject_failure_inside_promotion(monkeypatch) -> None:
    """The third view replaced inside the promotion transaction fails."""
    from airflow_provider_dualengine.deployments import promotion

    original, calls = promotion._replace_view, []

    def failing(warehouse, view, physical):
        calls.append(view)
        if len(calls) == 3:
            raise RuntimeError(f"injected: replacing {view} failed")
        return original(warehouse, view, physical)

    monkeypatch.setattr(promotion, "_replace_view", failing)


def inject_failure_after_commit(monkeypatch) -> None:
    """Prod switched (committed), then SQLMesh's state update fails: both must go back."""
    from airflow_provider_dualengine.engines.sqlmesh import promotion

    def failing(ctx, plan):
        raise RuntimeError("injected: SQLMesh state update failed after the switch")

    monkeypatch.setattr(promotion, "record_in_state", failing)


KILLED_LEASE_S = 20  # the killed deployment's lease: short, so the test sees it expire


def kill_mid_promotion(shop: Path, dag_id: str, tmp_path: Path) -> None:
    """A deployment in a child process, SIGKILLed once two prod views are replaced inside
    the open promotion transaction. Its lease (renewed as `promote` started) outlives it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from datetime import timedelta

    from tests.conftest import REPO_ROOT, TEST_DAGS_FOLDER

    dag_file = TEST_DAGS_FOLDER / f"{dag_id}.py"
    dag_file.write_text(
        "# airflow dag file written by a test\n"
        + deploy_source(dag_id, shop, lease_ttl=timedelta(seconds=KILLED_LEASE_S))
    )
    marker = tmp_path / f"{dag_id}-inside-promotion"
    output = tmp_path / f"{dag_id}.log"
    with output.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.deploy_until_killed", str(dag_file), dag_id, str(marker)],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 600
        while not marker.exists():
            assert proc.poll() is None, (
                "the deployment ended before reaching the promotion:\n" + output.read_text()[-3000:]
            )
            assert time.monotonic() < deadline
            time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)  # two prod views already replaced, transaction open
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        dag_file.unlink(missing_ok=True)


def release_duckdb_file() -> None:
    """dag.test() ran dbt in this process (Cosmos' dbtRunner mode), and dbt-duckdb keeps its
    connection open afterwards; DuckDB admits one process per file, so close it before a
    child process deploys. (In a real Airflow deployment every task is its own process.)"""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None and getattr(env, "conn", None) is not None:
        env.conn.close()
        env.conn = None
    DuckDBConnectionManager._ENV = None


def assert_killed_deployment_recorded(warehouse: Warehouse) -> None:
    import json

    killed = [
        (s, json.loads(d).get("summary"))
        for _, s, d in records(warehouse)
        if json.loads(d).get("summary", "").startswith("process stopped")
    ]
    assert killed == [
        (
            "interrupted",
            "process stopped during production_promotion; prod unchanged (checksums equal to before it started)",
        )
    ]


FAULTS = {
    "sqlmesh_deployment": inject_sqlmesh_failure,
    "dbt_deployment": inject_dbt_failure,
    "production_promotion/in_transaction": inject_failure_inside_promotion,
    "production_promotion/after_commit": inject_failure_after_commit,
}
# Each warehouse runs its faults in this order on one v2 deployment, then the kill, the
# successful v2 deployment and the rollback. On PostgreSQL only the promotion case (the
# after-commit swap back is the rollback DAG's code, run at the end).
FAULTS_BY_KIND = {
    "duckdb": [
        "sqlmesh_deployment",
        "dbt_deployment",
        "integration_validation",
        "production_promotion/in_transaction",
        "production_promotion/after_commit",
    ],
    "postgres": ["production_promotion/in_transaction"],
}


@dataclass
class Chain:
    """One warehouse's deployment history, shared by the tests of this module in order:
    v1 deployed and live, the project at v2 (not deployed yet)."""

    kind: str
    warehouse: Warehouse
    shop: Path
    dag_id: str
    v1: dict[str, tuple | None]
    faults_run: list[str] = field(default_factory=list)


def _chain(kind: str, request: pytest.FixtureRequest, work: Path) -> Iterator[Chain]:
    import shutil

    from airflow_provider_dualengine.cli.local_airflow import ensure_pool

    database = None
    if kind == "duckdb":
        warehouse = duckdb_warehouse(work / "warehouse" / "shop.duckdb")
    else:
        server = request.getfixturevalue("postgres_server")
        database = (server, server.create_database())
        warehouse = postgres_warehouse(*database)
    shop = work / "transforms"
    shutil.copytree(
        request.getfixturevalue("example_project"), shop, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache")
    )
    if kind == "postgres":
        settings = shop / "dualengine.yml"
        settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    dag_id = f"deploy_chain_{kind}"
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", warehouse.env_json())
            ensure_pool("dualengine_warehouse")
            assert str(run_dag(dag_id, deploy_source(dag_id, shop)).state) == "success"
            v1 = prod_checksums(warehouse)
        assert all(v1.values()), v1
        write_v2(shop)
        yield Chain(kind, warehouse, shop, dag_id, v1)
    finally:
        if database:
            database[0].drop_database(database[1])


@pytest.fixture(scope="module")
def duckdb_chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, metadata_db
) -> Iterator[Chain]:
    yield from _chain("duckdb", request, tmp_path_factory.mktemp("deploy-duckdb"))


@pytest.fixture(scope="module")
def postgres_chain(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, metadata_db
) -> Iterator[Chain]:
    yield from _chain("postgres", request, tmp_path_factory.mktemp("deploy-postgres"))


@pytest.fixture
def chain(request: pytest.FixtureRequest, kind: str, monkeypatch: pytest.MonkeyPatch) -> Chain:
    """The module's chain on `kind`, its warehouse the `dualengine_warehouse` connection."""
    found: Chain = request.getfixturevalue(f"{kind}_chain")
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", found.warehouse.env_json())
    return found


def run_dag(dag_id: str, source: str):
    """Like the `scenario_dag` fixture, for a module-scoped fixture."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import TEST_DAGS_FOLDER

    path = TEST_DAGS_FOLDER / f"{dag_id}.py"
    path.write_text(f"# airflow dag file written by a test\n{source}")
    try:
        bag = DagBag(dag_folder=str(path))
        assert bag.import_errors == {}, bag.import_errors
        return bag.dags[dag_id].test()
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("kind", "fault"), [(kind, fault) for kind, faults in sorted(FAULTS_BY_KIND.items()) for fault in faults]
)
def test_a_fault_leaves_prod_exactly_as_before_and_says_so(chain: Chain, fault: str, scenario_dag, monkeypatch) -> None:
    """A v2 deployment failing at `fault` leaves prod exactly v1 and a record saying what happened."""
    import json

    with monkeypatch.context() as patch:
        if fault == "integration_validation":
            # a real check failing for real: any build time counts as a regression
            strict = f"{chain.dag_id}_strict"
            run = scenario_dag(
                strict, deploy_source(strict, chain.shop, thresholds={"duration_factor": 0.0, "duration_grace_s": 0.0})
            )
        else:
            FAULTS[fault](patch)
            # the injected faults persist: retrying them only repeats them (retries: operations.md)
            run = scenario_dag(chain.dag_id, deploy_source(chain.dag_id, chain.shop, default_args={"retries": 0}))
    chain.faults_run.append(fault)
    assert str(run.state) == "failed", fault
    assert states(run)["conclude"] == "failed"
    assert prod_checksums(chain.warehouse) == chain.v1, f"prod changed after a failure at {fault}"
    _, status, details = records(chain.warehouse)[-1]
    recorded = json.loads(details)
    summary = recorded["summary"]
    point = fault.split("/")[0]
    assert (
        status == "rolled_back"
        and summary.startswith(f"blocked at {point}:")
        and "prod verified identical to before" in summary
    ), (fault, status, summary)
    assert recorded["rollback"]["failure_point"] == point  # the plan, recorded before it ran
    assert all(step["outcome"] in summary for step in recorded["rollback"]["steps"])


@pytest.mark.e2e
@pytest.mark.parametrize("kind", sorted(FAULTS_BY_KIND))
def test_after_the_faults_a_killed_promotion_a_deployment_and_a_rollback(
    chain: Chain, scenario_dag, tmp_path: Path, capsys, webhook
) -> None:
    """A deployment process SIGKILLed inside the promotion transaction leaves prod v1; then
    v2 deploys and changes both engines at once; a rollback restores v1 exactly, and the
    monitor DAG alerts on every rolled-back deployment once."""
    shop, warehouse, kind, v1 = chain.shop, chain.warehouse, chain.kind, chain.v1
    if kind == "duckdb":
        release_duckdb_file()
    import time

    kill_mid_promotion(shop, f"{chain.dag_id}_killed", tmp_path)
    killed_at = time.monotonic()
    assert prod_checksums(warehouse) == v1, "a process killed inside the promotion left prod changed"

    # Its lease is still live: the next deployment is refused, changes nothing, says by whom.
    refused = scenario_dag(f"{chain.dag_id}_early", deploy_source(f"{chain.dag_id}_early", shop))
    early = states(refused)
    assert time.monotonic() - killed_at < KILLED_LEASE_S, "too slow to see the lease live; raise KILLED_LEASE_S"
    assert early["prepare"] == "failed" and early["conclude"] == "failed", early
    assert {s for t, s in early.items() if t not in ("prepare", "conclude")} == {"upstream_failed"}
    prepare = refused.get_task_instance("prepare")
    reason = prepare.xcom_pull(task_ids="prepare", key="blocked_reason")
    assert reason.startswith("another deployment of 'production' is in progress: production-"), reason
    assert f"run by {chain.dag_id}_killed/" in reason and prepare.try_number == 1  # refused at once, no retry
    assert prod_checksums(warehouse) == v1
    assert [s for _, s, _ in records(warehouse)].count("running") == 1  # the killed one, not yet judged

    time.sleep(max(0.0, KILLED_LEASE_S + 1 - (time.monotonic() - killed_at)))  # the lease expires
    rerun = scenario_dag(chain.dag_id, deploy_source(chain.dag_id, shop))
    assert str(rerun.state) == "success", states(rerun)
    assert_killed_deployment_recorded(warehouse)
    history = records(warehouse)
    v2 = prod_checksums(warehouse)
    changed = sorted(r for r in PROD if v2[r] != v1[r])
    # fully new: both engines' changed relations switched together, nothing else differs
    assert changed == ["analytics.customer_value", "reporting.value_band_summary"], changed
    assert history[-1][1] == "succeeded"
    [v1_versions, v2_versions] = warehouse.query(
        "SELECT sqlmesh_version, dbt_version FROM dualengine.deployments WHERE status = 'succeeded' ORDER BY started_at"
    )
    assert v1_versions[0] != v2_versions[0] and len(v2_versions[0]) == 12  # a new SQLMesh snapshot went live
    assert (
        v1_versions[1].startswith("analytics__blue@")
        and v2_versions[1].startswith("analytics__green@")
        and v1_versions[1][-12:] != v2_versions[1][-12:]
    )

    back = scenario_dag(f"rollback_{kind}", rollback_source(f"rollback_{kind}", shop))
    assert str(back.state) == "success"
    assert prod_checksums(warehouse) == v1  # restored exactly, both engines
    assert records(warehouse)[-1][1] == "rolled_back"

    from airflow_provider_dualengine.cli.main import main

    capsys.readouterr()
    assert main(["deployments", str(shop), "-e", "production"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("rolled_back") == len(chain.faults_run) + 1 and "interrupted" in listing
    assert "succeeded" in listing
    # v1 is now the last successful deployment, and it was the first: nothing earlier to return to
    assert main(["rollback", str(shop), "-e", "production"]) == 1
    assert "there is no earlier prod to return to" in capsys.readouterr().err
    assert prod_checksums(warehouse) == v1

    # The monitor DAG alerts on each rolled-back deployment, once.
    url, alerts = webhook
    monitoring = shop / "config" / "monitoring.yml"
    monitoring.write_text(
        monitoring.read_text().replace("alerts: []\n", "")
        + "alerts:\n  - {name: rolled_back, condition: deployment_rolled_back, severity: high, actions: [on_call]}\n"
        + "notifiers:\n  on_call:\n    class: airflow_provider_dualengine.notifications.webhook.WebhookNotifier\n"
        + f"    args: {{url: '{url}/on_call'}}\n"
    )
    monitor = f"from airflow_provider_dualengine import ProjectConfig, build_monitor_dag\ndag = build_monitor_dag(ProjectConfig({str(shop)!r}, environment='production'), dag_id='monitor_{kind}')\n"
    rolled_back = [d for d, status, _ in records(warehouse) if status == "rolled_back"]
    assert str(scenario_dag(f"monitor_{kind}", monitor).state) == "success"
    assert sorted(body["subject"] for _, body in alerts) == sorted(f"deployment:{d}" for d in rolled_back)
    assert {(path, body["rule"], body["severity"]) for path, body in alerts} == {("/on_call", "rolled_back", "high")}
    assert (
        str(scenario_dag(f"monitor_{kind}_again", monitor.replace(f"monitor_{kind}", f"monitor_{kind}_again")).state)
        == "success"
    )
    assert len(alerts) == len(rolled_back)  # said once
