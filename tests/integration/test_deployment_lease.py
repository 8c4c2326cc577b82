"""The deployment lease on real DuckDB and PostgreSQL: one holder per environment, expiry,
take-over, and two takers racing (PostgreSQL, separate connections)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from airflow_provider_dualengine.deployments import lease
from airflow_provider_dualengine.deployments.lease import DeploymentInProgress, LeaseLost
from airflow_provider_dualengine.hooks.warehouse import Warehouse


def _warehouse(db_connect: tuple[str, Callable[[], Any]]) -> Warehouse:
    dialect, connect = db_connect
    return Warehouse(connect().cursor(), dialect)


def test_one_holder_per_environment_until_it_releases(db_connect: tuple[str, Callable[[], Any]]) -> None:
    warehouse = _warehouse(db_connect)
    assert lease.acquire(warehouse, "production", "deploy-a", "dag_a/run_1") is None
    with pytest.raises(DeploymentInProgress) as refused:
        lease.acquire(warehouse, "production", "deploy-b", "dag_b/run_1")
    text = str(refused.value)
    assert text.startswith("another deployment of 'production' is in progress: deploy-a (run by dag_a/run_1, since ")
    assert "this one did not start and changed nothing" in text
    assert lease.acquire(warehouse, "development", "deploy-c", "dag_c/run_1") is None  # other environment: free
    before = lease.current(warehouse, "production")
    later = lease.renew(warehouse, "production", "deploy-a", timedelta(hours=3))
    assert later > before.expires_at and lease.current(warehouse, "production").holder == "deploy-a"
    lease.release(warehouse, "production", "deploy-b")  # not the holder: nothing happens
    assert lease.current(warehouse, "production").holder == "deploy-a"
    lease.release(warehouse, "production", "deploy-a")
    assert lease.current(warehouse, "production") is None
    assert lease.acquire(warehouse, "production", "deploy-b", "dag_b/run_2") is None


def test_an_expired_lease_is_taken_over_and_its_holder_learns_it(db_connect: tuple[str, Callable[[], Any]]) -> None:
    warehouse = _warehouse(db_connect)
    lease.acquire(warehouse, "production", "deploy-dead", "dag_a/run_1", timedelta(seconds=1))
    time.sleep(1.2)
    previous = lease.acquire(warehouse, "production", "deploy-next", "dag_b/run_1")
    assert previous is not None and (previous.holder, previous.owner) == ("deploy-dead", "dag_a/run_1")
    with pytest.raises(LeaseLost, match="deployment deploy-dead lost the lease of 'production' .* held by deploy-next"):
        lease.renew(warehouse, "production", "deploy-dead")
    assert lease.current(warehouse, "production").holder == "deploy-next"


@pytest.mark.parametrize("existing", [False, True], ids=["first-taker", "after-expiry"])
def test_two_takers_at_once_one_wins(db_connect: tuple[str, Callable[[], Any]], existing: bool) -> None:
    """Separate connections (PostgreSQL: row lock and primary key decide; DuckDB: one
    process, transactions conflict): exactly one holds the lease, the other is told who."""
    dialect, connect = db_connect
    if existing:
        lease.acquire(_warehouse(db_connect), "production", "deploy-dead", "old", timedelta(milliseconds=1))
        time.sleep(0.05)
    start = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def take(holder: str) -> None:
        warehouse = Warehouse(connect().cursor(), dialect)
        start.wait()
        try:
            lease.acquire(warehouse, "production", holder, f"dag_{holder}/run")
            outcome[holder] = "holds"
        except DeploymentInProgress as exc:
            outcome[holder] = exc.lease.holder
        except Exception as exc:  # DuckDB: a write-write conflict between the two transactions
            outcome[holder] = f"conflict: {exc}"

    threads = [threading.Thread(target=take, args=(h,)) for h in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    holder = lease.current(_warehouse(db_connect), "production").holder
    assert holder in ("x", "y") and outcome[holder] == "holds", outcome
    loser = "y" if holder == "x" else "x"
    assert outcome[loser] == holder, outcome  # refused, with the winner's name


def test_promotion_refuses_once_another_deployment_took_the_lease(db_connect: tuple[str, Callable[[], Any]]) -> None:
    """Airflow only logs a failing task callback, so promote checks the lease itself."""
    from types import SimpleNamespace

    from airflow_provider_dualengine.deployments.coordinator import DeploymentBlocked, _still_holds_lease

    warehouse = _warehouse(db_connect)
    site = SimpleNamespace(environment="production")
    record = {"id": "deploy-slow", "details": {"lease": {"ttl_s": 1}}}
    lease.acquire(warehouse, "production", "deploy-slow", "dag_a/run_1", timedelta(seconds=1))
    _still_holds_lease(warehouse, site, record)  # still ours: renewed, no error
    time.sleep(1.2)
    lease.acquire(warehouse, "production", "deploy-next", "dag_b/run_1")
    with pytest.raises(DeploymentBlocked, match="deploy-slow lost the lease of 'production'.*; prod not touched"):
        _still_holds_lease(warehouse, site, record)


def test_a_fresh_duckdb_warehouse_has_no_deployment_and_is_not_created(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first writer of a new warehouse asks before the file exists: no lease, no file."""
    import json

    path = tmp_path / "new" / "shop.duckdb"
    path.parent.mkdir()
    monkeypatch.setenv("AIRFLOW_CONN_FRESH_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    assert lease.held_by_deployment("fresh_warehouse", "development") is None
    assert not path.exists()
    import duckdb

    duckdb.connect(str(path)).close()  # now it exists, without our tables: still nobody deploying
    assert lease.held_by_deployment("fresh_warehouse", "development") is None
