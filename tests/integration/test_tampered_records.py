"""Deployment records are read back only as far as the engines confirm them (issue 11).

On real DuckDB and PostgreSQL: a real deployment of the example project (v1 live, v2
promoted and not concluded: coordinator start/promote/conclude, SQLMesh planning green for
real; dbt's slot tables are written by plain SQL instead of a dbt run). Its record is then
tampered with by an UPDATE of `details`: SQL in a view name, a physical table, a checksum
key, a dbt slot or relation, a saved SQLMesh environment naming a foreign snapshot, a record
in the old format. Rollback, conclude and the settling of an interrupted deployment refuse
with one line naming the deployment, the field and the value; the injected statement never
runs and prod's checksums do not move. An untampered record still rolls back exactly.

Also: exception text written into a record carries no password of the warehouse connection.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_provider_dualengine.deployments import lease
from airflow_provider_dualengine.deployments.coordinator import (
    DeploymentBlocked,
    DeploymentSite,
    conclude,
    promote,
    rollback_last,
    settle_interrupted,
    start,
)
from airflow_provider_dualengine.hooks.warehouse import PARAM
from tests.example_models import EXAMPLE_DBT_MODELS, EXAMPLE_SQLMESH_MODELS
from tests.warehouses import Warehouse, duckdb_warehouse, postgres_warehouse

LOG = logging.getLogger("test_tampered_records")
PROD = EXAMPLE_SQLMESH_MODELS + [f"analytics.{t}" for t in EXAMPLE_DBT_MODELS]
PWN = "; CREATE TABLE pwned (x INTEGER); --"


@dataclass
class Deployed:
    """v1 live and concluded; v2 promoted (prod is v2), its record still running."""

    site: DeploymentSite
    warehouse: Warehouse
    v1: dict[str, Any]
    v2_id: str
    v2_details: dict[str, Any]


def _project(source: Path, target: Path, kind: str) -> Path:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache"))
    if kind == "postgres":
        settings = target / "dualengine.yml"
        settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    compile_project(load_project(target))
    return target


def _deploy(site: DeploymentSite, value_bands: list[tuple[int, str, float, str]]) -> str:
    """start, build green (slot tables by SQL, SQLMesh plan for real), promote."""
    started = start(site, "tester", LOG)
    slot = started["dbt_slot"]
    rows = ", ".join(f"({i}, '{tier}', {value}, '{band}')" for i, tier, value, band in value_bands)
    with site.warehouse() as session:
        session.execute(f'CREATE SCHEMA IF NOT EXISTS "{slot}"')
        for relation in site.dbt_relations:
            session.execute(
                f'CREATE TABLE "{slot}"."{relation}" AS SELECT * FROM (VALUES {rows}) AS t(customer_id, customer_tier, lifetime_value, value_band)'
            )
    with site.hook(dbt_schema=slot).context() as ctx:
        ctx.plan(site.green, no_prompts=True, auto_apply=True, skip_tests=True)
    promote(site, started["deployment_id"], LOG)
    return started["deployment_id"]


def _prod(warehouse: Warehouse) -> dict[str, Any]:
    present = warehouse.views()
    return {rel: warehouse.checksum(rel) if rel in present else None for rel in PROD}


def _details(site: DeploymentSite, deployment_id: str) -> dict[str, Any]:
    with site.warehouse() as session:
        session.execute(f"SELECT details FROM dualengine.deployments WHERE id = {PARAM}", [deployment_id])
        return json.loads(session.fetchone()[0])


def _set(site: DeploymentSite, deployment_id: str, details: dict[str, Any], status: str) -> None:
    """Tamper (or reset) a record the way anyone with write access to the table could."""
    finished = "NULL" if status == "running" else "CURRENT_TIMESTAMP"
    with site.warehouse() as session:
        session.execute(
            f"UPDATE dualengine.deployments SET details = {PARAM}, status = {PARAM}, finished_at = {finished} WHERE id = {PARAM}",
            [json.dumps(details), status, deployment_id],
        )


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def deployed(
    request: pytest.FixtureRequest, example_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    work = tmp_path_factory.mktemp(f"tampered-{request.param}")
    patch = pytest.MonkeyPatch()
    database = None
    if request.param == "duckdb":
        warehouse = duckdb_warehouse(work / "warehouse" / "shop.duckdb")
    else:
        server = request.getfixturevalue("postgres_server")
        database = (server, server.create_database())
        warehouse = postgres_warehouse(*database)
    patch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", warehouse.env_json())
    try:
        shop = _project(example_project, work / "transforms", request.param)
        site = DeploymentSite.of(str(shop), "production")
        v1_id = _deploy(site, [(1, "gold", 1200.0, "high"), (2, "silver", 100.0, "low")])
        conclude(site, v1_id, None, "", LOG)
        v1 = _prod(warehouse)
        summary = shop / "sqlmesh" / "models" / "reporting" / "value_band_summary.sql"
        summary.write_text(
            summary.read_text().replace("GROUP BY\n  v.value_band", "GROUP BY\n  v.value_band\nHAVING\n  COUNT(*) > 0")
        )
        v2_id = _deploy(site, [(1, "gold", 1200.0, "high"), (2, "silver", 400.0, "medium"), (3, "bronze", 50.0, "low")])
        assert _prod(warehouse) != v1
        with site.warehouse() as session:  # the cases act on v2's record, not on a live deployment
            lease.release(session, site.environment, v2_id)
        yield Deployed(site, warehouse, v1, v2_id, _details(site, v2_id))
    finally:
        patch.undo()
        if database:
            database[0].drop_database(database[1])


def _views(details: dict[str, Any], field: str, model: str) -> dict[str, Any]:
    return next(v for v in details[field]["sqlmesh_views"] if v["view"] == model.split("."))


def _view_name(d: dict[str, Any]) -> None:
    _views(d, "before", "raw.raw_orders")["view"][1] = f'raw_orders" AS SELECT 1{PWN}'


def _physical_table(d: dict[str, Any]) -> None:
    _views(d, "before", "raw.raw_orders")["physical"][1] += f'"{PWN}'


def _physical_of_another_model(d: dict[str, Any]) -> None:
    _views(d, "target", "raw.raw_orders")["physical"] = _views(d, "target", "raw.raw_customers")["physical"]


def _checksum_key(d: dict[str, Any]) -> None:
    d["checksums_before"].append({"relation": ["raw", f'raw_orders" AS t{PWN}'], "checksum": [1, "1"]})


def _dbt_slot(d: dict[str, Any]) -> None:
    d["dbt_slot"] = f'analytics__green"{PWN}'


def _saved_slot_not_a_slot(d: dict[str, Any]) -> None:
    d["before"]["dbt_slot"] = "staging"


def _dbt_relation(d: dict[str, Any]) -> None:
    d["before"]["dbt_relations"].append(f'customer_value"{PWN}')


def _foreign_snapshot(d: dict[str, Any]) -> None:
    d["sqlmesh_state_before"][0][0] = '"elsewhere"."raw"."raw_customers"'


def _snapshot_of_another_deployment(d: dict[str, Any]) -> None:
    promoted = _views(d, "target", "reporting.value_band_summary")
    pair = next(p for p in d["sqlmesh_state_before"] if p[0] == promoted["model"])
    pair[1] = promoted["snapshot"]  # v2's snapshot: real, of the model, but not what prod was before


def _old_format(d: dict[str, Any]) -> None:
    del d["format"]
    d["before"]["sqlmesh_views"] = {'"raw"."raw_orders"': f'"sqlmesh__raw"."x"{PWN}'}


# name -> (tamper, field named in the refusal, text of the message, whether settling reads the field:
# it needs neither the promoted layer nor the saved SQLMesh environment)
TAMPERS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str, bool]] = {
    "view_name": (_view_name, "before.sqlmesh_views", "CREATE TABLE pwned", True),
    "physical_table": (_physical_table, "before.sqlmesh_views", "CREATE TABLE pwned", True),
    "physical_table_of_another_model": (
        _physical_of_another_model,
        "target.sqlmesh_views",
        "raw__raw_customers",
        False,
    ),
    "checksum_key": (_checksum_key, "checksums_before", "CREATE TABLE pwned", True),
    "dbt_slot": (_dbt_slot, "dbt_slot", "CREATE TABLE pwned", True),
    "saved_slot_not_a_slot": (_saved_slot_not_a_slot, "before.dbt_slot", "'staging'", True),
    "dbt_relation": (_dbt_relation, "before.dbt_relations", "CREATE TABLE pwned", True),
    "foreign_snapshot": (_foreign_snapshot, "sqlmesh_state_before", '"elsewhere"', False),
    "snapshot_of_another_deployment": (
        _snapshot_of_another_deployment,
        "sqlmesh_state_before",
        "that before.sqlmesh_views names",
        False,
    ),
    "old_format": (_old_format, "format", "None", True),
}
CASES = [
    (tamper, action)
    for tamper, (*_, settle_reads) in TAMPERS.items()
    for action in ("rollback", "conclude", "settle")
    if action != "settle" or settle_reads
]


def _act(action: str, site: DeploymentSite, deployment_id: str) -> None:
    if action == "rollback":
        rollback_last(site, "tester")
    elif action == "conclude":
        conclude(site, deployment_id, "production_promotion", "injected: promotion step failed", LOG)
    else:
        from airflow_provider_dualengine.deployments import records

        with site.warehouse() as session, site.hook().context() as ctx:
            settle_interrupted(session, site, ctx, records.get(session, deployment_id), LOG)


def _status_and_summary(site: DeploymentSite, deployment_id: str) -> tuple[str, str]:
    with site.warehouse() as session:
        session.execute(f"SELECT status, details FROM dualengine.deployments WHERE id = {PARAM}", [deployment_id])
        status, details = session.fetchone()
    return status, json.loads(details).get("summary", "")


@pytest.mark.parametrize(("tamper", "action"), CASES)
def test_a_tampered_record_is_refused_and_nothing_from_it_runs(deployed: Deployed, tamper: str, action: str) -> None:
    change, field, quoted, _ = TAMPERS[tamper]
    site, record_id = deployed.site, deployed.v2_id
    details = json.loads(json.dumps(deployed.v2_details))
    change(details)
    _set(site, record_id, details, "succeeded" if action == "rollback" else "running")
    prod_before = _prod(deployed.warehouse)
    try:
        if action == "settle":
            _act(action, site, record_id)  # settling never raises: the new deployment does not depend on the old record
            status, message = _status_and_summary(site, record_id)
            assert status == "failed" and message.startswith(
                "process stopped during production_promotion; not settled: "
            )
        else:
            with pytest.raises(DeploymentBlocked) as refused:
                _act(action, site, record_id)
            message = str(refused.value)
            status, summary = _status_and_summary(site, record_id)
            if action == "conclude":  # closed, so no later deployment settles it again
                assert (status, summary) == (
                    "failed",
                    f"blocked at production_promotion: injected: promotion step failed; {message}",
                )
            else:
                assert status == "succeeded"
        assert f"deployment {record_id}: refusing to act on its record: {field} = " in message and quoted in message, (
            message
        )
        assert (
            "nothing from the record was executed" in message
            and "deploy that code again" in message
            and "\n" not in message
        )
        assert not deployed.warehouse.query(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE '%pwned%'"
        )
        assert _prod(deployed.warehouse) == prod_before  # v2 still live, exactly
        assert deployed.warehouse.scalar("SELECT live_slot FROM dualengine.dbt_slots") == "analytics__green"
    finally:
        _set(site, record_id, deployed.v2_details, "running")


def test_the_untampered_record_still_rolls_back_exactly(deployed: Deployed) -> None:
    """Runs after the tampering cases (same warehouse): the checks accept a real record,
    and the rollback restores v1 in both engines, SQLMesh's state included."""
    site = deployed.site
    summary = conclude(site, deployed.v2_id, "production_promotion", "injected: state update failed", LOG)
    assert "prod verified identical to before (checksums)" in summary, summary
    assert _prod(deployed.warehouse) == deployed.v1
    assert _status_and_summary(site, deployed.v2_id)[0] == "rolled_back"
    with site.hook().context() as ctx:
        prod = {s.name: s.identifier for s in ctx.state_reader.get_environment("prod").snapshots}
    assert sorted(prod.items()) == sorted(tuple(p) for p in deployed.v2_details["sqlmesh_state_before"])


@pytest.fixture
def secret_warehouse(
    postgres_server: Any, example_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[DeploymentSite, Any, str]]:
    """The example project on a PostgreSQL database owned by a role with a known, awkward password."""
    from psycopg2 import sql

    role, password = f"deployer_{uuid.uuid4().hex[:8]}", "Tr0ub4dor&3:p@ss/w%rd"
    admin = postgres_server.connect(autocommit=True)
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    dbname = postgres_server.create_database()
    with admin.cursor() as cur:
        cur.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(dbname), sql.Identifier(role)))
    connection = {
        "conn_type": "postgres",
        "host": postgres_server.host,
        "port": postgres_server.port,
        "login": role,
        "password": password,
        "schema": dbname,
    }
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps(connection))
    try:
        shop = _project(example_project, tmp_path / "transforms", "postgres")
        yield DeploymentSite.of(str(shop), "production"), Warehouse("postgres", connection), password
    finally:
        postgres_server.drop_database(dbname)
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        admin.close()


def test_exception_text_in_a_record_carries_no_password(
    secret_warehouse: tuple[DeploymentSite, Warehouse, str],
) -> None:
    import psycopg2

    site, warehouse, password = secret_warehouse
    c = warehouse.connection
    uri = f"postgresql://{c['login']}:{quote(password, safe='')}@{c['host']}:{c['port']}/{c['schema']}"
    deployment_id = start(site, "tester", LOG)["deployment_id"]
    # A real driver error that quotes what it was given: the password in a URI, a DSN and bare.
    with site.warehouse() as session, pytest.raises(psycopg2.Error) as failed:
        session.execute(
            f"SELECT CAST({PARAM} AS INTEGER)",
            [f"could not reach {uri} (password={password}); retried with {password}"],
        )
    reason = f"dbt build failed: {failed.value}"
    assert password in reason and quote(password, safe="") in reason
    summary = conclude(site, deployment_id, "dbt_deployment", reason, LOG)
    assert "***" in summary and password not in summary
    rows = warehouse.query("SELECT * FROM dualengine.deployments")
    stored = json.dumps([[str(v) for v in row] for row in rows])
    assert "dbt build failed" in stored and "***" in stored
    for form in (password, quote(password, safe=""), json.dumps(password)[1:-1]):
        assert form not in stored and json.dumps(form)[1:-1] not in stored, form
