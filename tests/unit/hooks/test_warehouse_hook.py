"""The warehouse hook and its session on a real DuckDB file: quoting, listing, transactions,
parameters, and connection failures translated into one readable error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.providers.common.sql.hooks.sql import DbApiHook

from airflow_provider_dualengine.engines.connections import UnsupportedWarehouse, WarehouseUnreachable
from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse, WarehouseHook

CONN_ID = "warehouse_hook_test"
ODD = 'x" AS SELECT 1; CREATE TABLE pwned (x INTEGER); --'


@pytest.fixture
def hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WarehouseHook:
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    return WarehouseHook(CONN_ID)


@pytest.fixture
def warehouse(hook: WarehouseHook) -> Iterator[Warehouse]:
    with hook.session() as session:
        yield session


def test_the_hook_is_a_common_sql_hook_on_the_connection(hook: WarehouseHook) -> None:
    assert isinstance(hook, DbApiHook)
    assert (hook.get_conn_id(), hook.dialect_name, hook.placeholder) == (CONN_ID, "duckdb", "?")
    assert hook.get_first("SELECT 41 + 1") == (42,)  # DbApiHook's own API works on it too
    assert hook.test_connection()[0] is True


@pytest.mark.parametrize("dialect", ["duckdb", "postgres"])
def test_quoting_makes_each_part_one_identifier(dialect: str) -> None:
    session = Warehouse(None, dialect)
    assert session.quote("shop", "orders") == '"shop"."orders"'
    assert session.quote("select") == '"select"'
    assert session.quote(ODD) == '"x"" AS SELECT 1; CREATE TABLE pwned (x INTEGER); --"'


def test_an_odd_name_is_just_a_name(warehouse: Warehouse) -> None:
    warehouse.execute(f"CREATE SCHEMA {warehouse.quote('shop')}")
    warehouse.execute(f"CREATE TABLE {warehouse.quote('shop', ODD)} (x INTEGER)")
    warehouse.execute(f"INSERT INTO {warehouse.quote('shop', ODD)} VALUES (1), (2)")
    assert warehouse.list_tables("shop") == [ODD]
    assert warehouse.table_exists("shop", ODD) and not warehouse.table_exists("shop", "pwned")
    assert warehouse.row_count("shop", ODD) == 2


def test_list_tables_is_sorted_holds_views_and_knows_one_schema(warehouse: Warehouse) -> None:
    for schema in ("a", "b"):
        warehouse.execute(f"CREATE SCHEMA {schema}")
    warehouse.execute("CREATE TABLE a.zeta (x INTEGER)")
    warehouse.execute("CREATE TABLE a.alpha (x INTEGER)")
    warehouse.execute("CREATE VIEW a.mid AS SELECT * FROM a.zeta")
    warehouse.execute("CREATE TABLE b.other (x INTEGER)")
    assert warehouse.list_tables("a") == ["alpha", "mid", "zeta"]
    assert warehouse.list_tables("missing") == []
    assert warehouse.table_exists(None, "zeta") is False  # the current schema is `main`
    warehouse.execute("CREATE TABLE zeta (x INTEGER)")
    assert warehouse.table_exists(None, "zeta") is True


def test_values_travel_as_parameters(warehouse: Warehouse) -> None:
    text = "it's 100% ?"
    assert warehouse.rows(f"SELECT {PARAM}, {PARAM} || '%'", [text, 1]) == [(text, "1%")]
    assert warehouse.render(f"SELECT {PARAM}") == "SELECT ?"
    postgres = Warehouse(None, "postgres")
    assert postgres.render(f"SELECT {PARAM} LIKE 'a%'") == "SELECT %s LIKE 'a%%'"
    assert postgres.render("SELECT 'a%'") == "SELECT 'a%'"  # no parameters: psycopg2 leaves % alone


def test_a_failed_transaction_leaves_nothing_behind(warehouse: Warehouse) -> None:
    warehouse.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(RuntimeError, match="injected"), warehouse.transaction():
        warehouse.execute("INSERT INTO t VALUES (1)")
        warehouse.execute("CREATE TABLE u (x INTEGER)")
        raise RuntimeError("injected")
    assert warehouse.row_count("main", "t") == 0 and not warehouse.table_exists("main", "u")
    with warehouse.transaction():
        warehouse.execute("INSERT INTO t VALUES (1)")
    assert warehouse.row_count("main", "t") == 1


def test_a_read_only_snapshot_is_rolled_back(warehouse: Warehouse) -> None:
    warehouse.execute("CREATE TABLE t (x INTEGER)")
    warehouse.begin_read_only()
    warehouse.execute("INSERT INTO t VALUES (1)")
    warehouse.end_read_only()
    assert warehouse.row_count("main", "t") == 0


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported dialect 'mysql'"):
        Warehouse(None, "mysql")


def test_an_unreachable_warehouse_is_one_readable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "shop.duckdb"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "duckdb", "host": str(missing)}))
    with pytest.raises(WarehouseUnreachable) as err, WarehouseHook(CONN_ID).session():
        pass
    assert str(err.value).startswith(
        f"cannot connect to the warehouse of Airflow connection '{CONN_ID}' (duckdb://{missing}): "
    )
    assert "fix: check the connection's host field" in str(err.value)


def test_a_postgres_password_never_reaches_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret = "s3cret-pw"
    conn = {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": port,
        "schema": "shop",
        "login": "u",
        "password": secret,
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    with pytest.raises(WarehouseUnreachable) as err:
        WarehouseHook(CONN_ID).get_conn()
    assert f"(postgres://127.0.0.1:{port}): OperationalError:" in str(err.value) and secret not in str(err.value)


def test_a_connection_of_another_kind_is_refused_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "http", "host": "example.org"}))
    with pytest.raises(UnsupportedWarehouse, match="has type 'http'"):
        WarehouseHook(CONN_ID).get_conn()
