"""The documented warehouse connection works by ordinary means: Airflow's CLI, the UI form,
and our own CLI beside a cluster (connections stored in the metadata DB)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from airflow_provider_dualengine.engines.connections import WarehouseConnectionNotFound, connection_kind, duckdb_path
from airflow_provider_dualengine.hooks.connections import get_connection
from airflow_provider_dualengine.hooks.duckdb import DuckDBHook


def _airflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True, text=True, check=False)


def test_airflow_cli_stores_the_documented_duckdb_connection_and_our_cli_finds_it(
    metadata_db: Path, tmp_path: Path
) -> None:
    database = tmp_path / "shop.duckdb"
    added = _airflow("connections", "add", "dualengine_wh_cli", "--conn-type", "duckdb", "--conn-host", str(database))
    assert added.returncode == 0, added.stderr[-2000:]
    assert "invalid" not in added.stderr  # Airflow warns and stores `generic` for unknown types
    try:
        shown = _airflow("connections", "get", "dualengine_wh_cli", "--output", "json")
        [stored] = json.loads(shown.stdout[shown.stdout.index("[") :])
        assert (stored["conn_type"], stored["host"]) == ("duckdb", str(database))
        # Outside a task the Task SDK sees only env vars and secrets backends; the metadata DB
        # is where `airflow connections add` (and the UI) put it.
        conn = get_connection("dualengine_wh_cli")
        assert (connection_kind(conn), duckdb_path(conn)) == ("duckdb", str(database))
    finally:
        _airflow("connections", "delete", "dualengine_wh_cli")


def test_a_missing_connection_names_every_place_searched(metadata_db: Path) -> None:
    with pytest.raises(WarehouseConnectionNotFound) as info:
        get_connection("no_such_warehouse")
    message = str(info.value)
    assert "Airflow connection 'no_such_warehouse' not found" in message
    assert "environment variable AIRFLOW_CONN_NO_SUCH_WAREHOUSE" in message
    assert "the Airflow metadata DB (sqlite:///" in message
    assert "airflow connections add no_such_warehouse --conn-type duckdb --conn-host" in message


def test_ui_connection_form_offers_duckdb_with_a_database_file_field() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    forms = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    duck = forms["duckdb"]
    assert duck.hook_name == "DuckDB"
    assert duck.hook_class_name == "airflow_provider_dualengine.hooks.duckdb.DuckDBHook"
    fields = duck.standard_fields
    assert fields.host.title == "Database file" and fields.host.placeholder == "/opt/airflow/warehouse/shop.duckdb"
    assert fields.password.hidden and fields.login.hidden and fields.port.hidden


def test_test_button_opens_the_file_or_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "wh.duckdb"
    duckdb.connect(str(existing)).close()
    monkeypatch.setenv("AIRFLOW_CONN_DUCK_OK", json.dumps({"conn_type": "duckdb", "host": str(existing)}))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUCK_NEW", json.dumps({"conn_type": "duckdb", "host": str(tmp_path / "new.duckdb")})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUCK_BAD", json.dumps({"conn_type": "duckdb", "host": "/nonexistent/folder/wh.duckdb"})
    )
    assert DuckDBHook("duck_ok").test_connection() == (True, f"opened {existing}")
    ok, message = DuckDBHook("duck_new").test_connection()
    assert ok and "does not exist yet" in message and not (tmp_path / "new.duckdb").exists()
    ok, message = DuckDBHook("duck_bad").test_connection()
    assert not ok and "/nonexistent/folder is missing or not writable" in message


def test_dag_without_its_warehouse_connection_is_one_readable_import_error(
    example_project: Path, metadata_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAG's Assets are named after the warehouse: without the connection the DAG is
    not half-built (its shape would depend on when it was parsed), it is an import error
    that says what to create."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import DAGS_FOLDER

    monkeypatch.delenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE")
    bag = DagBag(dag_folder=str(DAGS_FOLDER / "dualengine_example.py"))
    [error] = bag.import_errors.values()
    assert (
        f"{example_project / 'dualengine.yml'}: warehouse.conn_id: Airflow connection 'dualengine_warehouse' not found."
        in error
    )
    assert "The DAG names each model's Airflow Asset after this warehouse" in error
    assert (
        "fix: create it, e.g. `airflow connections add dualengine_warehouse --conn-type duckdb --conn-host /path/to/warehouse.duckdb`"
        in error
    )
    assert error.count("File ") <= 2  # Airflow's own frame header at most, no traceback wall
