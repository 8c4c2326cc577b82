"""SQLMeshHook: Airflow connections become SQLMesh gateway connections; secrets stay out of config files."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import Connection

from airflow_provider_dualengine.engines.connections import UnsupportedWarehouse, table_asset_uri
from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook, engine_connection_config


def test_duckdb_connection_becomes_duckdb_gateway() -> None:
    config = engine_connection_config(Connection(conn_id="w", conn_type="duckdb", host="/data/shop.duckdb"))
    assert config.type_ == "duckdb" and config.database == "/data/shop.duckdb"


def test_postgres_credentials_come_from_the_connection() -> None:
    conn = Connection(
        conn_id="w",
        conn_type="postgres",
        host="db.internal",
        port=6543,
        login="etl",
        password="s3cret",
        schema="warehouse",
    )
    config = engine_connection_config(conn)
    assert (config.type_, config.host, config.port, config.user, config.password, config.database) == (
        "postgres",
        "db.internal",
        6543,
        "etl",
        "s3cret",
        "warehouse",
    )


def test_sqlmesh_connection_type_names_its_engine_in_extras() -> None:
    conn = Connection(
        conn_id="s",
        conn_type="sqlmesh",
        host="pg",
        port=5432,
        login="u",
        password="p",
        schema="db",
        extra='{"engine": "postgres", "gateway": "pg", "project_path": "/p"}',
    )
    assert engine_connection_config(conn).type_ == "postgres"
    hook = SQLMeshHook(conn_id=None)
    assert hook._resolve_project(conn) == (Path("/p"), "pg")


def test_unknown_connection_type_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedWarehouse, match="type 'mysql', which is not a warehouse"):
        engine_connection_config(Connection(conn_id="w", conn_type="mysql", host="h"))


def test_asset_uris_match_cosmos_naming() -> None:
    duck = Connection(conn_id="w", conn_type="duckdb", host="/data/shop.duckdb")
    assert (
        table_asset_uri(duck, "staging__dev", "stg_orders") == "duckdb:///data/shop.duckdb/shop/staging__dev/stg_orders"
    )
    pg = Connection(conn_id="w", conn_type="postgres", host="db", port=5432, login="u", password="p", schema="wh")
    assert table_asset_uri(pg, "staging", "stg_orders") == "postgres://db:5432/wh/staging/stg_orders"


def test_project_config_gets_the_airflow_credentials(example_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE_PG",
        '{"conn_type": "postgres", "host": "db", "port": 5432, "login": "etl", "password": "s3cret", "schema": "wh"}',
    )
    config, gateway, project = SQLMeshHook(example_project / "sqlmesh", conn_id="warehouse_pg").load_config()
    assert gateway == "duckdb" and project == example_project / "sqlmesh"
    connection = config.get_gateway(gateway).connection
    assert (connection.type_, connection.host, connection.password) == ("postgres", "db", "s3cret")
    assert "s3cret" not in (example_project / "sqlmesh" / "config.yaml").read_text()


def test_provider_registers_the_sqlmesh_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager

    hooks = ProvidersManager().hooks
    assert hooks["sqlmesh"].hook_class_name == "airflow_provider_dualengine.hooks.sqlmesh.SQLMeshHook"
    widgets = ProvidersManager().connection_form_widgets
    assert {"extra__sqlmesh__engine", "extra__sqlmesh__project_path", "extra__sqlmesh__gateway"} <= set(widgets)
