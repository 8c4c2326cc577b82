"""dbt blue-green slots on real DuckDB and PostgreSQL: atomic switch, refusal, rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_dualengine.deployments import dbt_slots
from airflow_provider_dualengine.deployments.dbt_slots import BlueGreenError
from airflow_provider_dualengine.hooks.warehouse import Warehouse

LIVE = "analytics"
BLUE, GREEN = dbt_slots.slot_names(LIVE)


@pytest.fixture
def cursor(db_connect: tuple[str, Callable[[], Any]]) -> Iterator[Any]:
    db = db_connect[1]()
    try:
        yield db.cursor()
    finally:
        db.close()


@pytest.fixture
def warehouse(db_connect: tuple[str, Callable[[], Any]], cursor: Any) -> Warehouse:
    return Warehouse(cursor, db_connect[0])


def _run(cursor: Any, dialect: str, *statements: str) -> None:
    for sql in statements:
        cursor.execute(sql)
    if dialect == "postgres":
        cursor.connection.commit()


def _build_slot(cursor: Any, dialect: str, slot: str, amounts: list[int], with_orders: bool = True) -> None:
    """What a dbt build into the slot leaves behind: a mart table (and another model)."""
    values = ", ".join(f"({i}, {amount})" for i, amount in enumerate(amounts, 1))
    statements = [
        f'CREATE SCHEMA IF NOT EXISTS "{slot}"',
        f'CREATE TABLE "{slot}".customer_value (customer_id INTEGER, amount INTEGER)',
        f'INSERT INTO "{slot}".customer_value VALUES {values}',
    ]
    if with_orders:
        statements += [f'CREATE TABLE "{slot}".orders (order_id INTEGER)', f'INSERT INTO "{slot}".orders VALUES (1)']
    _run(cursor, dialect, *statements)


def _checksum(cursor: Any, dialect: str, relation: str = "customer_value") -> tuple[int, int]:
    cursor.execute(f'SELECT count(*), coalesce(sum(amount), 0) FROM "{LIVE}".{relation}')
    row = cursor.fetchone()
    if dialect == "postgres":
        cursor.connection.commit()
    return int(row[0]), int(row[1])


def _state(cursor: Any, dialect: str) -> tuple:
    cursor.execute("SELECT live_slot, previous_slot, relations, switched_at FROM dualengine.dbt_slots")
    rows = cursor.fetchall()
    if dialect == "postgres":
        cursor.connection.commit()
    return tuple(rows)


@pytest.fixture
def two_slots(db_connect: tuple[str, Callable[[], Any]], cursor: Any) -> str:
    dialect = db_connect[0]
    _build_slot(cursor, dialect, BLUE, [10, 20, 30])  # 3 rows, sum 60
    _build_slot(cursor, dialect, GREEN, [1, 2, 3, 4, 5])  # 5 rows, sum 15
    return dialect


def test_slot_names_and_first_idle_slot(two_slots: str, cursor: Any, warehouse: Warehouse) -> None:
    assert (BLUE, GREEN) == ("analytics__blue", "analytics__green")
    assert dbt_slots.live_slot(warehouse, LIVE) is None
    assert dbt_slots.idle_slot(warehouse, LIVE) == BLUE


def test_switch_points_live_views_at_the_slot(two_slots: str, cursor: Any, warehouse: Warehouse) -> None:
    dialect = two_slots
    first = dbt_slots.switch(warehouse, LIVE, BLUE, ["customer_value", "orders"])
    assert (first.slot, first.previous_slot, first.relations) == (BLUE, None, ("customer_value", "orders"))
    assert _checksum(cursor, dialect) == (3, 60)
    assert dbt_slots.idle_slot(warehouse, LIVE) == GREEN

    second = dbt_slots.switch(warehouse, LIVE, GREEN, ["customer_value"])
    assert _checksum(cursor, dialect) == (5, 15)
    assert (second.previous_slot, second.dropped) == (BLUE, ("orders",))
    assert dbt_slots.live_slot(warehouse, LIVE) == GREEN
    assert 0 < second.seconds < 30  # the promotion window
    cursor.execute("SELECT switch_seconds FROM dualengine.dbt_slots WHERE live_schema = 'analytics'")
    assert 0 < cursor.fetchone()[0] <= second.seconds
    with pytest.raises(Exception):  # noqa: B017 (driver-specific error type); the dropped relation's live view is gone
        _checksum(cursor, dialect, "orders")


def test_a_slot_missing_a_relation_is_refused_and_live_is_untouched(
    two_slots: str, db_connect: tuple, cursor: Any, warehouse: Warehouse
) -> None:
    dialect = two_slots
    dbt_slots.switch(warehouse, LIVE, BLUE, ["customer_value", "orders"])
    state = _state(cursor, dialect)
    _run(cursor, dialect, f'DROP TABLE "{GREEN}".orders')

    with pytest.raises(BlueGreenError, match="lacks orders"):
        dbt_slots.switch(warehouse, LIVE, GREEN, ["customer_value", "orders"])

    assert _checksum(cursor, dialect) == (3, 60)
    assert _state(cursor, dialect) == state
    assert dbt_slots.live_slot(warehouse, LIVE) == BLUE


def test_a_failure_mid_switch_rolls_every_view_back(two_slots: str, cursor: Any, warehouse: Warehouse) -> None:
    """customer_value's view is replaced first, then `orders` fails: both stay as they were."""
    dialect = two_slots
    dbt_slots.switch(warehouse, LIVE, BLUE, ["customer_value"])
    _run(cursor, dialect, f'CREATE TABLE "{LIVE}".orders (order_id INTEGER)')  # not a view: cannot be replaced
    state = _state(cursor, dialect)

    with pytest.raises(BlueGreenError, match="rolled back"):
        dbt_slots.switch(warehouse, LIVE, GREEN, ["customer_value", "orders"])

    assert _checksum(cursor, dialect) == (3, 60)
    assert _state(cursor, dialect) == state


def test_rollback_restores_the_previous_slot_exactly(
    two_slots: str, db_connect: tuple, cursor: Any, warehouse: Warehouse
) -> None:
    dialect = two_slots
    with pytest.raises(BlueGreenError, match="no previous slot"):
        dbt_slots.rollback(warehouse, LIVE, ["customer_value"])
    dbt_slots.switch(warehouse, LIVE, BLUE, ["customer_value"])
    before = _checksum(cursor, dialect)
    dbt_slots.switch(warehouse, LIVE, GREEN, ["customer_value"])
    assert _checksum(cursor, dialect) == (5, 15)

    result = dbt_slots.rollback(warehouse, LIVE, ["customer_value"])

    assert (result.slot, result.previous_slot) == (BLUE, GREEN)
    assert _checksum(cursor, dialect) == before == (3, 60)
    other = db_connect[1]()  # a fresh connection sees the committed state
    try:
        assert dbt_slots.live_slot(Warehouse(other.cursor(), dialect), LIVE) == BLUE
    finally:
        other.close()


def test_a_schema_that_is_not_a_slot_is_refused(two_slots: str, cursor: Any, warehouse: Warehouse) -> None:
    with pytest.raises(BlueGreenError, match="not a slot"):
        dbt_slots.switch(warehouse, LIVE, "public", ["customer_value"])
