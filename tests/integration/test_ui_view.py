"""The dual-engine view mounted in Airflow's real api-server app (in process): Airflow's
plugin manager finds it through the package's entry point, Airflow's SimpleAuthManager
issues the JWT, and the pages read a real DuckDB warehouse holding run history,
deployment records and alerts written by the provider's own writers.

The browser and the cluster (wheel, api-server process, a real run, deployment and
rollback) are in tests/e2e/on_cluster/test_ui_plugin.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PAGES = (
    "/dualengine/",
    "/dualengine/lineage",
    "/dualengine/deployments",
    "/dualengine/contracts",
    "/dualengine/operations",
)
DAG = "dualengine_shop_development"


def _history(warehouse: Any, now: datetime) -> None:
    from airflow_provider_dualengine.monitoring import history
    from airflow_provider_dualengine.monitoring.history import RunRecord

    def run(kind: str, engine: str, model: str, status: str, dag: str, run_id: str, task: str, **kw: Any) -> RunRecord:
        return RunRecord(kind, engine, "development", model, status, dag, run_id, task, **kw)

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    rows = [
        run("model", "sqlmesh", "staging.customer_enhanced", "success", DAG, "run_1", "stage_1_sqlmesh.customer_enhanced", started_at=ago(5), ended_at=ago(4), duration_s=60.0, rows=7),
        run("model", "dbt", "customer_value", "failed", DAG, "run_1", "stage_3_dbt.customer_value", started_at=ago(3), ended_at=ago(2), duration_s=2.5, message="division by zero"),
        run("model", "dbt", "customer_order_summary", "success", "hidden_dag", "run_9", "t", started_at=ago(3), duration_s=1.0),
        run("contract_check", "sqlmesh", "staging.customer_enhanced", "success", DAG, "run_1", "stage_1_sqlmesh.contract_customer_enhanced", started_at=ago(4), duration_s=0.3, tests_passed=9, sla_met=True, data_age_s=12.0),
    ]  # fmt: skip
    history.record(warehouse, rows)


def _deployments(warehouse: Any, now: datetime) -> None:
    from airflow_provider_dualengine.deployments import records

    records.ensure_table(warehouse)
    records.start(warehouse, "dep-1", "production", "airflow:admin", "sqlmesh-abc", "a@digest")
    records.update(warehouse, "dep-1", promotion_seconds=0.0123, checksums_before={"analytics.x": "1"})
    records.record_stage(warehouse, "dep-1", "production_promotion", "committed", now, now, "prod switched")
    records.finish(
        warehouse,
        "dep-1",
        "rolled_back",
        "rolled back by cli:me in 0.010 s; prod verified identical to before it (checksums)",
    )
    records.start(warehouse, "dep-2", "production", "airflow:admin", "sqlmesh-def", "b@digest")
    records.finish(warehouse, "dep-2", "succeeded", "succeeded: prod switched in 0.020 s")
    # prod's customer_enhanced as deployed: customer_tier is missing (a breaking change vs the contract)
    warehouse.execute("CREATE SCHEMA staging")
    warehouse.execute(
        "CREATE TABLE staging.customer_enhanced (customer_id INTEGER, customer_name TEXT, customer_score DOUBLE)"
    )


def _alert(warehouse: Any, now: datetime) -> None:
    from airflow_provider_dualengine.monitoring import alerts

    firing = alerts.Firing(
        "performance_degradation",
        "warning",
        "execution_time > 2 * baseline",
        "sqlmesh:x@run_1",
        "sqlmesh:x",
        "staging.customer_enhanced took 60 s <b>",
    )
    alerts.undelivered(warehouse, [firing], timedelta(hours=1), now)
    alerts.remember(warehouse, firing, ["webhook"], now)


def _known_dags(*dag_ids: str) -> None:
    """DAG rows in the metadata DB: the auth manager answers "which DAGs may this user read"
    from them, and the view shows history only of those."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if session.get(DagBundleModel, "dags-folder") is None:
            session.add(DagBundleModel(name="dags-folder"))
            session.flush()
        for dag_id in dag_ids:
            if session.get(DagModel, dag_id) is None:
                session.add(DagModel(dag_id=dag_id, bundle_name="dags-folder", fileloc=f"/dags/{dag_id}.py"))


@pytest.fixture(scope="module")
def view(
    example_project: Path, metadata_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Airflow's app with SimpleAuthManager, the example project configured for the view,
    and a DuckDB warehouse with history, one rolled-back deployment and one alert."""
    import duckdb
    from fastapi.testclient import TestClient

    from airflow_provider_dualengine.hooks.warehouse import Warehouse

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("ui")
    database = home / "shop.duckdb"
    mp.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{database}"}}')
    mp.setenv("AIRFLOW__DUALENGINE__PROJECTS", str(example_project))
    mp.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    mp.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(home / "passwords.json"))
    mp.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "x" * 64)
    now = datetime.now(UTC)
    db = duckdb.connect(str(database))
    warehouse = Warehouse(db.cursor(), "duckdb")
    _history(warehouse, now)
    _deployments(warehouse, now)
    _alert(warehouse, now)
    db.close()
    _known_dags(DAG, "hidden_dag", "dualengine_shop_production_rollback")
    from airflow import plugins_manager
    from airflow.api_fastapi import app as api_app

    for cached in (plugins_manager._get_plugins, plugins_manager.get_fastapi_plugins):
        cached.cache_clear()
    api_app.purge_cached_app()
    app = api_app.create_app("core")
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = api_app.get_auth_manager()
    token = manager.generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    client = TestClient(app)
    client.__enter__()
    try:
        yield {"client": client, "token": token, "headers": {"Authorization": f"Bearer {token}"}}
    finally:
        client.__exit__(None, None, None)
        api_app.purge_cached_app()
        mp.undo()


@pytest.mark.parametrize("path", PAGES)
def test_every_endpoint_refuses_anonymous_and_wrong_tokens(view: dict[str, Any], path: str) -> None:
    client = view["client"]
    assert client.get(path, follow_redirects=False).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer not-a-jwt"}, follow_redirects=False).status_code == 403
    forged = view["token"][:-4] + ("AAAA" if not view["token"].endswith("AAAA") else "BBBB")
    assert client.get(path, headers={"Authorization": f"Bearer {forged}"}, follow_redirects=False).status_code == 403
    assert client.get(path, cookies={"_token": "not-a-jwt"}, follow_redirects=False).status_code == 403


def test_the_airflow_ui_cookie_is_enough(view: dict[str, Any]) -> None:
    """What an iframe inside the Airflow UI sends: the `_token` cookie, no header."""
    page = view["client"].get("/dualengine/lineage", cookies={"_token": view["token"]})
    assert page.status_code == 200
    assert 'id="graph"' in page.text


def test_nothing_is_served_outside_the_plugin_prefix(view: dict[str, Any]) -> None:
    client, headers = view["client"], view["headers"]
    assert client.get("/dualengine/lineage", headers=headers).status_code == 200
    for outside in ("/lineage", "/deployments", "/contracts", "/operations"):
        response = client.get(outside, headers=headers)
        assert 'id="graph"' not in response.text and "Deployments of" not in response.text


def test_the_plugin_is_listed_with_its_views(view: dict[str, Any]) -> None:
    plugins = view["client"].get("/api/v2/plugins", headers=view["headers"]).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "dualengine")
    assert ours["fastapi_apps"][0]["url_prefix"] == "/dualengine"
    assert {v["href"] for v in ours["external_views"]} == {
        "dualengine/lineage",
        "dualengine/deployments",
        "dualengine/contracts",
        "dualengine/operations",
    }


def test_lineage_page_shows_both_engines_and_the_latest_runs(view: dict[str, Any], example_project: Path) -> None:
    from airflow_provider_dualengine.compiled import read_artifact
    from airflow_provider_dualengine.config import load_project

    text = view["client"].get("/dualengine/lineage", headers=view["headers"]).text
    artifact = read_artifact(load_project(example_project))
    sqlmesh, dbt = (len(c.models) for c in (artifact.catalogs(example_project, example_project / "sqlmesh").values()))
    assert re.search(r'id="count-sqlmesh">(\d+)<', text).group(1) == str(sqlmesh)
    assert re.search(r'id="count-dbt">(\d+)<', text).group(1) == str(dbt)
    assert text.count('class="n sqlmesh"') == sqlmesh and text.count('class="n dbt"') == dbt
    assert int(re.search(r'id="count-cross">(\d+)<', text).group(1)) >= 3
    assert text.count('<path class="x"') == int(re.search(r'id="count-cross">(\d+)<', text).group(1))
    # run statuses drawn on the nodes and linked to the task instance (relative URLs)
    assert '"link":"../dags/dualengine_shop_development/runs/run_1/tasks/stage_3_dbt.customer_value"' in text
    assert 'class="st failed"' in text and 'class="st success"' in text


def test_history_of_dags_the_user_may_not_read_is_left_out(
    view: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_dualengine.ui import app as ui_app

    text = view["client"].get("/dualengine/lineage", headers=view["headers"]).text
    assert "hidden_dag" in text  # SimpleAuthManager: an admin reads every DAG
    monkeypatch.setattr(ui_app, "readable_dag_ids", lambda user: {DAG})
    text = view["client"].get("/dualengine/lineage", headers=view["headers"]).text
    assert "hidden_dag" not in text and "run_1" in text


def test_deployments_page_shows_the_record_and_the_rollback_action(view: dict[str, Any]) -> None:
    text = view["client"].get("/dualengine/deployments", headers=view["headers"]).text
    assert 'class="mono dep-id">dep-1<' in text
    assert ">rolled_back<" in text and "production_promotion: committed" in text
    assert "0.012 s" in text and "verified identical" in text
    # the rollback targets the last succeeded deployment (dep-2), through the environment's rollback DAG
    assert 'data-dag="dualengine_shop_production_rollback"' in text
    assert '(now <b class="mono">dep-2</b>' in text
    assert "no deployment of development recorded yet" in text
    assert 'data-dag="dualengine_shop_development_rollback"' not in text


def test_contracts_page_shows_each_contract_its_consumers_and_the_latest_check(view: dict[str, Any]) -> None:
    text = view["client"].get("/dualengine/contracts", headers=view["headers"]).text
    for name in ("staging.customer_enhanced", "intermediate.customer_lifetime", "customer_value"):
        assert f'id="c-{name}"' in text
    enhanced = text[text.index('id="c-staging.customer_enhanced"') :]
    enhanced = enhanced[: enhanced.index("</tr>")]
    assert "stg_customers" in enhanced and "9 passed, 0 failed" in enhanced and "SLA met" in enhanced
    assert (
        "[BLOCKING] staging.customer_enhanced.customer_tier: contract column &#x27;customer_tier&#x27; (text) is missing from the live table"
        in enhanced
    )
    value = text[text.index('id="c-customer_value"') :]
    assert "no prod table yet" in value[: value.index("</tr>")]


def test_operations_page_shows_cost_sections_and_escaped_alerts(view: dict[str, Any]) -> None:
    text = view["client"].get("/dualengine/operations", headers=view["headers"]).text
    assert 'id="alerts"' in text and "performance_degradation" in text
    assert "took 60 s &lt;b&gt;" in text and "took 60 s <b>" not in text
    executions = re.search(r"<h3>Executions</h3><div class=\"value\">(\d+)</div>", text)
    assert executions is not None and executions.group(1) == "3"  # the three model runs recorded


def test_a_user_sees_only_what_the_dags_they_may_read_allow(
    view: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """History by DAG, deployments by the environment's deploy/rollback DAG, alerts only
    to who reads every DAG: on every page."""
    from airflow_provider_dualengine.ui import app as ui_app

    client, headers = view["client"], view["headers"]
    monkeypatch.setattr(ui_app, "readable_dag_ids", lambda user: {DAG})
    monkeypatch.setattr(ui_app, "reads_every_dag", lambda user: False)
    for page in PAGES[1:]:
        text = client.get(page, headers=headers).text
        assert "hidden_dag" not in text and "dep-1" not in text and "dep-2" not in text, page
        assert "performance_degradation" not in text, page
    assert "no deployment of production recorded yet" in client.get("/dualengine/deployments", headers=headers).text
    assert "no alert fired in the last 7 days" in client.get("/dualengine/operations", headers=headers).text
    monkeypatch.setattr(ui_app, "readable_dag_ids", lambda user: {DAG, "dualengine_shop_production_rollback"})
    assert "dep-2" in client.get("/dualengine/deployments", headers=headers).text


def test_an_unreadable_warehouse_is_named_on_the_page_not_a_500(
    view: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "shop.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", f'{{"conn_type": "duckdb", "host": "{missing}"}}')
    for page in PAGES[1:]:
        response = view["client"].get(page, headers=view["headers"])
        assert response.status_code == 200, page
        assert "the warehouse could not be read just now" in response.text and str(missing) in response.text, page
    # the graph needs no warehouse
    assert 'id="graph"' in view["client"].get("/dualengine/lineage", headers=view["headers"]).text


def test_a_broken_monitoring_file_is_named_on_the_page(
    view: dict[str, Any], monkeypatch: pytest.MonkeyPatch, project_copy: Path
) -> None:
    (project_copy / "config" / "monitoring.yml").write_text("cost:\n  currency: [not, a, currency]\n")
    monkeypatch.setenv("AIRFLOW__DUALENGINE__PROJECTS", str(project_copy))
    response = view["client"].get("/dualengine/operations", headers=view["headers"])
    assert response.status_code == 200
    assert "monitoring.yml" in response.text and "cost.currency" in response.text


def test_a_link_to_a_model_or_contract_finds_its_project(view: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_dualengine.ui import app as ui_app

    picked: list[str] = []
    monkeypatch.setattr(ui_app.lineage_page, "render", lambda loaded, *a: picked.append(loaded.name) or "ok")
    monkeypatch.setattr(ui_app.contracts_page, "render", lambda loaded, *a: picked.append(loaded.name) or "ok")
    client, headers = view["client"], view["headers"]
    assert client.get("/dualengine/lineage?model=dbt:customer_value", headers=headers).text == "ok"
    assert client.get("/dualengine/contracts?contract=customer_value", headers=headers).text == "ok"
    assert picked == ["shop", "shop"]


def test_unknown_project_is_a_clear_404(view: dict[str, Any]) -> None:
    response = view["client"].get("/dualengine/lineage?project=nope", headers=view["headers"])
    assert response.status_code == 404 and "no project named 'nope'; configured: shop" in response.text
