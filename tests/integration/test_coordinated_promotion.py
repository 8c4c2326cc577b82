"""Prod switched for both engines in one transaction, on real DuckDB and PostgreSQL;
integration checks of green against prod; order-independent checksums."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dualengine.deployments import promotion
from airflow_provider_dualengine.deployments.checksums import checksums
from airflow_provider_dualengine.deployments.green_relations import DeployedModel
from airflow_provider_dualengine.deployments.integration import Thresholds, validate
from airflow_provider_dualengine.deployments.promotion import ProdLayer, swap
from airflow_provider_dualengine.engines.sqlmesh.promotion import ViewBinding
from airflow_provider_dualengine.graph import Engine
from airflow_provider_dualengine.hooks.warehouse import Warehouse

ORDERS, CUSTOMER_VALUE = ("staging", "orders"), ("analytics", "customer_value")
PROD = [ORDERS, CUSTOMER_VALUE]


@pytest.fixture
def cursor(db_connect: tuple[str, Callable[[], Any]]) -> Iterator[Any]:
    db = db_connect[1]()
    if db_connect[0] == "postgres":
        db.autocommit = True
    try:
        yield db.cursor()
    finally:
        db.close()


@pytest.fixture
def warehouse(db_connect: tuple[str, Callable[[], Any]], cursor: Any) -> Warehouse:
    return Warehouse(cursor, db_connect[0])


def _sql(cursor: Any, *statements: str) -> None:
    for sql in statements:
        cursor.execute(sql)


def _physical(cursor: Any, name: str, rows: list[int]) -> tuple[str, str]:
    """A SQLMesh-like physical snapshot table holding `rows`."""
    values = ", ".join(f"({v})" for v in rows)
    _sql(
        cursor,
        'CREATE SCHEMA IF NOT EXISTS "sqlmesh__staging"',
        f'CREATE TABLE "sqlmesh__staging"."{name}" (order_id INTEGER)',
        f'INSERT INTO "sqlmesh__staging"."{name}" VALUES {values}',
    )
    return ("sqlmesh__staging", name)


def _view(view: tuple[str, str], physical: tuple[str, str]) -> ViewBinding:
    return ViewBinding(f'"db"."{view[0]}"."{view[1]}"', physical[1].rsplit("__", 1)[-1], view, physical)


def _slot(cursor: Any, slot: str, rows: list[tuple[int, int]]) -> None:
    values = ", ".join(f"({a}, {b})" for a, b in rows)
    _sql(
        cursor,
        f'CREATE SCHEMA IF NOT EXISTS "{slot}"',
        f'CREATE TABLE "{slot}".customer_value (customer_id INTEGER, amount INTEGER)',
        f'INSERT INTO "{slot}".customer_value VALUES {values}',
    )


def _layer(physical: tuple[str, str], slot: str) -> ProdLayer:
    return ProdLayer((_view(ORDERS, physical),), "analytics", slot, ("customer_value",))


@pytest.fixture
def deployed(cursor: Any, warehouse: Warehouse) -> tuple[ProdLayer, ProdLayer, dict]:
    """v1 live (SQLMesh table v1 + dbt slot blue); v2 built (table v2 + slot green), not live."""
    v1 = _layer(_physical(cursor, "orders__111", [1, 2, 3]), "analytics__blue")
    _slot(cursor, "analytics__blue", [(1, 10), (2, 20)])
    swap(warehouse, v1)
    v2 = _layer(_physical(cursor, "orders__222", [1, 2, 3, 4]), "analytics__green")
    _slot(cursor, "analytics__green", [(1, 10), (2, 25), (4, 40)])
    return v1, v2, checksums(warehouse, PROD)


def test_swap_switches_both_engines_together_and_back(cursor: Any, warehouse: Warehouse, deployed) -> None:
    v1, v2, before = deployed
    assert before[ORDERS][0] == 3 and before[CUSTOMER_VALUE][0] == 2
    window = swap(warehouse, v2, v1)
    after = checksums(warehouse, PROD)
    assert window > 0
    assert after[ORDERS][0] == 4 and after[CUSTOMER_VALUE][0] == 3  # both new
    assert all(after[r] != before[r] for r in PROD)
    swap(warehouse, v1, v2)  # rollback is the same swap
    assert checksums(warehouse, PROD) == before


def test_a_failure_inside_the_swap_leaves_prod_fully_old(
    cursor: Any, warehouse: Warehouse, deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1, v2, before = deployed
    original = promotion.dbt_slots.apply_switch

    def failing(*args, **kwargs):  # the SQLMesh view is already replaced when dbt's switch fails
        original(*args, **kwargs)
        raise RuntimeError("injected after both engines' statements, before COMMIT")

    monkeypatch.setattr(promotion.dbt_slots, "apply_switch", failing)
    with pytest.raises(RuntimeError, match="injected"):
        swap(warehouse, v2, v1)
    assert checksums(warehouse, PROD) == before
    assert promotion.dbt_slots.live_slot(warehouse, "analytics") == "analytics__blue"


def test_swap_drops_views_the_target_no_longer_has(cursor: Any, warehouse: Warehouse, deployed) -> None:
    v1, v2, _ = deployed
    extra = _physical(cursor, "returns__333", [9])
    returns = ("staging", "returns")
    with_returns = ProdLayer(
        (*v1.sqlmesh_views, _view(returns, extra)), "analytics", "analytics__blue", ("customer_value",)
    )
    swap(warehouse, with_returns, v1)
    assert checksums(warehouse, [returns])[returns][0] == 1
    swap(warehouse, v2, with_returns)
    assert checksums(warehouse, [returns]) == {returns: None}


def test_swap_quotes_each_name_part(cursor: Any, warehouse: Warehouse, deployed) -> None:
    """Names reach SQL only as quoted identifiers: a name shaped like SQL is just a name."""
    v1, _, _ = deployed
    odd = ("staging", 'x" AS SELECT 1; CREATE TABLE pwned (x INTEGER); --')
    swap(
        warehouse,
        ProdLayer(
            (*v1.sqlmesh_views, _view(odd, v1.sqlmesh_views[0].physical)),
            "analytics",
            "analytics__blue",
            ("customer_value",),
        ),
        v1,
    )
    assert checksums(warehouse, [odd])[odd][0] == 3
    cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pwned'")
    assert cursor.fetchone()[0] == 0


def test_integration_checks_name_every_difference(cursor: Any, warehouse: Warehouse, deployed) -> None:
    _, v2, _ = deployed
    models = [
        DeployedModel(Engine.SQLMESH, "staging.orders", v2.sqlmesh_views[0].physical, ("staging", "orders")),
        DeployedModel(
            Engine.DBT, "customer_value", ("analytics__green", "customer_value"), ("analytics", "customer_value")
        ),
    ]
    findings = validate(
        warehouse,
        models,
        [("staging.orders", "customer_value")],
        Thresholds(row_count_tolerance=0.4, mean_tolerance=0.3),
    )
    by = {(f.check, f.model): f for f in findings}
    assert (
        by[("row_count", "staging.orders")].passed
        and "4 rows vs 3 in prod (33% change" in by[("row_count", "staging.orders")].message
    )
    assert not by[("row_count", "customer_value")].passed  # 3 vs 2: 50% > 40%
    assert (
        not by[("distribution", "customer_value")].passed
        and "amount mean 15 -> 25" in by[("distribution", "customer_value")].message
    )
    assert by[("column_presence", "customer_value")].passed and by[("data_types", "customer_value")].passed
    # no key column (*_id) shared between producer and reader: nothing to join on, no finding
    assert not [f for f in findings if f.check == "referential_integrity"]


def test_integration_checks_catch_a_dropped_column_and_a_narrowed_type(
    cursor: Any, warehouse: Warehouse, deployed
) -> None:
    _sql(
        cursor,
        'CREATE SCHEMA IF NOT EXISTS "analytics__x"',
        'CREATE TABLE "analytics__x".customer_value (customer_id SMALLINT)',
        'INSERT INTO "analytics__x".customer_value VALUES (1), (2)',
    )
    model = DeployedModel(
        Engine.DBT, "customer_value", ("analytics__x", "customer_value"), ("analytics", "customer_value")
    )
    by = {f.check: f for f in validate(warehouse, [model], [], Thresholds())}
    assert not by["column_presence"].passed and "lacks prod column(s) amount" in by["column_presence"].message
    assert not by["data_types"].passed and "customer_id" in by["data_types"].message
    assert by["row_count"].passed


def test_referential_integrity_across_engines_counts_orphans(cursor: Any, warehouse: Warehouse) -> None:
    _sql(
        cursor,
        'CREATE SCHEMA "g1"',
        'CREATE TABLE "g1".customers (customer_id INTEGER)',
        'INSERT INTO "g1".customers VALUES (1), (2)',
        'CREATE SCHEMA "g2"',
        'CREATE TABLE "g2".orders (order_id INTEGER, customer_id INTEGER)',
        'INSERT INTO "g2".orders VALUES (1, 1), (2, 3), (3, NULL)',
    )
    producer = DeployedModel(Engine.SQLMESH, "staging.customers", ("g1", "customers"), ("staging", "customers"))
    reader = DeployedModel(Engine.DBT, "orders", ("g2", "orders"), ("analytics", "orders"))
    [finding] = [
        f
        for f in validate(warehouse, [producer, reader], [("staging.customers", "orders")], Thresholds())
        if f.check == "referential_integrity"
    ]
    assert (
        not finding.passed and finding.message == "1 row(s) of orders have a customer_id missing from staging.customers"
    )


def test_checksums_ignore_row_order_and_see_any_change(cursor: Any, warehouse: Warehouse) -> None:
    _sql(
        cursor,
        "CREATE TABLE a (x INTEGER, y TEXT)",
        "INSERT INTO a VALUES (1, 'p'), (2, 'q')",
        "CREATE TABLE b (x INTEGER, y TEXT)",
        "INSERT INTO b VALUES (2, 'q'), (1, 'p')",
        "CREATE TABLE c (x INTEGER, y TEXT)",
        "INSERT INTO c VALUES (2, 'q'), (1, 'r')",
    )
    sums = checksums(warehouse, [("a",), ("b",), ("c",), ("missing",)])
    assert sums[("a",)] == sums[("b",)] and sums[("a",)] != sums[("c",)] and sums[("a",)][0] == 2
    assert sums[("missing",)] is None
