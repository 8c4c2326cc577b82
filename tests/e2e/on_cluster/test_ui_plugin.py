"""The dual-engine view where users meet it: the wheel's plugin in the cluster's real
api-server, a logged-in user in headless Chromium (Debian's chromium, tests/browser.py),
after the package's real runs (the example DAG, deployments to production).

- Each page's DOM against what the warehouse holds: models per engine (the compiled
  artifact), the latest run of each model, each contract's latest check, the newest
  deployment and its status; no console error, no failed request; a screenshot of each
  (test-artifacts/ui/, or $DUALENGINE_TEST_ARTIFACTS).
- The rollback button: the user's browser triggers the rollback DAG through Airflow's
  REST API with the user's own session; the DAG really rolls production back and the page
  then shows that deployment rolled back.
- Inside the Airflow UI: the Browse entry opens the view in Airflow's iframe.
- A task's extra link (computed by the worker) opens its model's panel.
- Anonymous and wrong-token requests to every page are refused by the real api-server.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import DevTools, chromium_missing, open_browser
from tests.cluster import AirflowCluster
from tests.e2e.on_cluster.conftest import DEPLOY_DAG, EXAMPLE_DAG, ensure_duckdb_connection

pytestmark = [pytest.mark.e2e, pytest.mark.cluster, pytest.mark.timeout(1800)]

ROLLBACK_DAG = "dualengine_shop_production_rollback"
PAGES = ("lineage", "deployments", "contracts", "operations")
READY = "document.readyState === 'complete'"
ARTIFACTS = (
    Path(os.environ.get("DUALENGINE_TEST_ARTIFACTS") or Path(__file__).resolve().parents[3] / "test-artifacts") / "ui"
)


def _records(cluster: AirflowCluster) -> list[dict[str, Any]]:
    """The deployment records, newest first; none before the first deployment."""
    exists = cluster.warehouse_query(
        {
            "t": "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = 'dualengine' AND table_name = 'deployments'"
        }
    )["t"]
    if not exists[0][0]:
        return []
    rows = cluster.warehouse_query(
        {"d": "SELECT id, status, environment FROM dualengine.deployments ORDER BY started_at DESC"}
    )["d"]
    return [{"id": r[0], "status": r[1], "environment": r[2]} for r in rows]


@pytest.fixture(scope="module")
def deployed(cluster: AirflowCluster, successful_example_run) -> list[dict[str, Any]]:
    """Production with at least two succeeded deployments (a rollback returns to the one
    before the last): the package's earlier modules leave them; alone, this module deploys."""
    ensure_duckdb_connection(cluster)
    for _ in range(2):
        if sum(r["status"] == "succeeded" and r["environment"] == "production" for r in _records(cluster)) >= 2:
            break
        with cluster.timed("UI test: deploy DAG (no two deployments yet)"):
            cluster.wait_for_dag(DEPLOY_DAG)
            run = cluster.run_dag(DEPLOY_DAG, timeout=1200)
        assert run.state == "success", run.summary()
    return _records(cluster)


@pytest.fixture(scope="module")
def browser(cluster: AirflowCluster) -> Iterator[DevTools]:
    reason = chromium_missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    token = cluster.api(
        "POST", "/auth/token", {"username": "admin", "password": cluster.password}, auth=False, expect=(200, 201)
    )["access_token"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open_browser(1500, 950) as devtools:
        devtools.set_cookie(_url(cluster, ""), "_token", token)  # what the Airflow UI's login leaves
        yield devtools


def _url(cluster: AirflowCluster, path: str) -> str:
    return f"http://127.0.0.1:{cluster.api_port}/{path}"


def _open(browser: DevTools, cluster: AirflowCluster, path: str) -> str:
    url = _url(cluster, path)
    browser.open(url)
    browser.wait_until(READY)
    return url


def _clean(browser: DevTools, url: str) -> list[str]:
    return browser.problems(url)


def _shot(browser: DevTools, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(browser.screenshot(1500, 950, 1))
    return path


def test_every_page_refuses_anonymous_and_wrong_tokens(cluster: AirflowCluster) -> None:
    for page in ("", *PAGES):
        for headers, expected in (
            ({}, 401),
            ({"Authorization": "Bearer wrong"}, 403),
            ({"Cookie": "_token=wrong"}, 403),
        ):
            request = urllib.request.Request(_url(cluster, f"dualengine/{page}"), headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == expected, (page, headers, refused.value.code)


def test_lineage_page_shows_every_model_and_its_latest_run(
    cluster: AirflowCluster, browser: DevTools, successful_example_run, deployed
) -> None:
    artifact = json.loads((cluster.project / "target" / "dualengine.json").read_text())
    url = _open(browser, cluster, "dualengine/lineage")
    browser.wait_until("document.body.getAttribute('data-ready') === '1'")
    assert _clean(browser, url) == []
    counts = browser.evaluate(
        "({sqlmesh: +document.getElementById('count-sqlmesh').textContent, dbt: +document.getElementById('count-dbt').textContent,"
        " nodes: document.querySelectorAll('g.n').length, cross: document.querySelectorAll('path.x').length})"
    )
    expected = {engine: len(artifact[engine]["models"]) for engine in ("sqlmesh", "dbt")}
    assert {k: counts[k] for k in expected} == expected
    assert counts["nodes"] == sum(expected.values()) and counts["cross"] >= 3
    history = cluster.warehouse_query(
        {
            "h": "SELECT engine || ':' || model, status, task_id FROM dualengine.run_history"
            f" WHERE kind = 'model' AND run_id = '{successful_example_run.run_id}'"
        }
    )["h"]
    assert len(history) == sum(expected.values())
    drawn = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('g.n')].map(g => [g.dataset.k, g.querySelector('.st').classList[1] || '']))"
    )
    assert {row[0]: row[1] for row in history} == drawn
    # a model's panel: its latest run links to that task instance in Airflow's grid
    browser.evaluate(
        "document.querySelector('g.n[data-k=\"sqlmesh:staging.customer_enhanced\"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    link = browser.wait_until(
        "document.querySelector('#panel-runs a.af') && document.querySelector('#panel-runs a.af').href"
    )
    task = next(row[2] for row in history if row[0] == "sqlmesh:staging.customer_enhanced")
    assert link.endswith(
        f"/dags/{EXAMPLE_DAG}/runs/{successful_example_run.run_id.replace(':', '%3A').replace('+', '%2B')}/tasks/{task}"
    )
    assert browser.evaluate("document.getElementById('panel-owner').textContent") == "data-platform"
    _shot(browser, "lineage")


def test_contracts_page_shows_each_latest_check(
    cluster: AirflowCluster, browser: DevTools, successful_example_run, deployed
) -> None:
    checks = cluster.warehouse_query(
        {
            "c": "SELECT model, status, tests_passed FROM dualengine.run_history"
            f" WHERE kind = 'contract_check' AND run_id = '{successful_example_run.run_id}'"
        }
    )["c"]
    assert checks
    url = _open(browser, cluster, "dualengine/contracts")
    assert _clean(browser, url) == []
    shown = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#contracts tbody tr')].map(tr => [tr.querySelector('b.mono').textContent,"
        " [...tr.querySelectorAll('.check[data-env=development]')].map(c => c.dataset.status + ' ' + c.textContent)]))"
    )
    for model, status, passed in checks:
        assert len(shown[model]) == 1 and shown[model][0].startswith(
            f"{status} development: {status} {passed} passed, 0 failed"
        )
    _shot(browser, "contracts")


def test_operations_page_draws_the_run_history(cluster: AirflowCluster, browser: DevTools, deployed) -> None:
    url = _open(browser, cluster, "dualengine/operations")
    assert _clean(browser, url) == []
    assert browser.evaluate("document.querySelectorAll('#metrics svg').length") > 0
    assert browser.evaluate("document.getElementById('recent-alerts') !== null")
    _shot(browser, "operations")


def test_rollback_from_the_deployments_page_rolls_production_back(
    cluster: AirflowCluster, browser: DevTools, deployed
) -> None:
    newest = next(r for r in deployed if r["environment"] == "production")
    last_succeeded = next(r for r in deployed if r["environment"] == "production" and r["status"] == "succeeded")
    url = _open(browser, cluster, "dualengine/deployments")
    assert _clean(browser, url) == []
    first_row = browser.evaluate(
        "(() => { const tr = document.querySelector('#deployments-production tbody tr');"
        " return [tr.querySelector('.dep-id').textContent, tr.querySelector('.dep-status').textContent]; })()"
    )
    assert first_row == [newest["id"], newest["status"]]
    assert (
        browser.evaluate("document.querySelector('.rollback[data-env=production] .confirm b').textContent")
        == last_succeeded["id"]
    )
    _shot(browser, "deployments")
    cluster.wait_for_dag(ROLLBACK_DAG)
    cluster.unpause(ROLLBACK_DAG)
    browser.evaluate("document.querySelector('.rollback[data-env=production] .arm').click()")
    browser.evaluate("document.querySelector('.rollback[data-env=production] .go').click()")
    run_id = browser.wait_until(
        "document.querySelector('.rollback[data-env=production] .result').getAttribute('data-run-id')"
    )
    with cluster.timed("UI test: rollback DAG triggered from the page"):
        run = cluster.wait_for_run(ROLLBACK_DAG, run_id, timeout=600)
    assert run.state == "success", run.summary()
    # the user's own session triggered it: Airflow records the user, and that it came from its UI
    triggered = cluster.api("GET", f"/api/v2/dags/{ROLLBACK_DAG}/dagRuns/{run_id}")
    assert (triggered["triggered_by"], triggered["triggering_user_name"]) == ("ui", "admin")
    records = {r["id"]: r["status"] for r in _records(cluster)}
    assert records[last_succeeded["id"]] == "rolled_back"
    url = _open(browser, cluster, "dualengine/deployments")
    statuses = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#deployments-production tbody tr')].map(tr =>"
        " [tr.querySelector('.dep-id').textContent, tr.querySelector('.dep-status').textContent]))"
    )
    assert statuses[last_succeeded["id"]] == "rolled_back"
    _shot(browser, "deployments-after-rollback")


def test_the_view_inside_the_airflow_ui(cluster: AirflowCluster, browser: DevTools, deployed) -> None:
    """The Browse entry: Airflow's own page with the view in its iframe (same origin)."""
    _open(browser, cluster, "plugin/dualengine-lineage")
    src = browser.wait_until(
        "document.querySelector('iframe') && document.querySelector('iframe').getAttribute('src')", timeout=60
    )
    assert src.endswith("dualengine/lineage")
    browser.wait_until(
        "(() => { const d = document.querySelector('iframe').contentDocument;"
        " return d && d.body && d.body.getAttribute('data-ready') === '1'; })()",
        timeout=60,
    )
    assert browser.evaluate("document.querySelector('iframe').contentDocument.querySelectorAll('g.n').length") == 10
    browser.evaluate(
        "document.querySelector('iframe').contentDocument.querySelector('g.n[data-k=\"sqlmesh:staging.customer_enhanced\"]')"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
    )
    browser.wait_until("document.querySelector('iframe').contentDocument.getElementById('panel-title') !== null")
    _shot(browser, "airflow-ui-lineage")


def test_a_model_tasks_extra_link_opens_its_panel(
    cluster: AirflowCluster, browser: DevTools, successful_example_run
) -> None:
    def links(task: str) -> dict[str, str]:
        run = successful_example_run.run_id
        return cluster.api("GET", f"/api/v2/dags/{EXAMPLE_DAG}/dagRuns/{run}/taskInstances/{task}/links")["extra_links"]

    model_link = links("stage_1_sqlmesh.sqlmesh.staging__customer_enhanced")["Model lineage (SQLMesh + dbt)"]
    assert model_link == "/dualengine/lineage?model=sqlmesh%3Astaging.customer_enhanced"
    assert links("stage_3_dbt.dbt.customer_value")["Model lineage (SQLMesh + dbt)"] == (
        "/dualengine/lineage?model=dbt%3Acustomer_value"
    )
    contract_link = links("stage_1_sqlmesh.contract__staging__customer_enhanced")["Data contract"]
    assert contract_link == "/dualengine/contracts?contract=staging.customer_enhanced#c-staging.customer_enhanced"
    _open(browser, cluster, model_link.lstrip("/"))
    browser.wait_until("document.body.getAttribute('data-ready') === '1'")
    assert browser.evaluate("document.getElementById('panel-title').textContent") == "sqlmesh:staging.customer_enhanced"
    _open(browser, cluster, contract_link.lstrip("/"))
    assert browser.evaluate("location.hash") == "#c-staging.customer_enhanced"
    assert browser.evaluate("document.getElementById('c-staging.customer_enhanced') !== null")
