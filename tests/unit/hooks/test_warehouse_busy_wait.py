"""Waiting for a DuckDB file another process holds: retried every 0.25 s for the allowed
time, then one WarehouseBusy message; read-only sessions that write nothing. The lock
itself is simulated (a second process holding it is tests/integration/test_warehouse_busy.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from airflow_provider_dualengine.engines.connections import WarehouseConnectionError, WarehouseUnreachable
from airflow_provider_dualengine.hooks import warehouse as module
from airflow_provider_dualengine.hooks.warehouse import (
    WarehouseBusy,
    WarehouseHook,
    busy_message,
    busy_wait_s,
    is_lock_conflict,
    lock_holder,
)

CONN_ID = "busy_wait_test"
LOCKED = (
    'IO Error: Could not set lock on file "{path}": Conflicting lock is held in /usr/bin/python3.12 (PID 4242). '
    "See also https://duckdb.org/docs/stable/connect/concurrency"
)


class Clock:
    """Stands in for the module's `time`: sleeping advances it, nothing really waits."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(module, "time", fake)
    return fake


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "shop.duckdb"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "duckdb", "host": str(file)}))
    monkeypatch.delenv(module.BUSY_WAIT_ENV, raising=False)
    return file


def _locked_for(monkeypatch: pytest.MonkeyPatch, path: Path, attempts: int) -> list[dict[str, Any]]:
    """duckdb.connect refuses with DuckDB's lock message `attempts` times, then opens."""
    real, calls = duckdb.connect, []

    def connect(database: str, **kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) <= attempts:
            raise duckdb.IOException(LOCKED.format(path=path))
        return real(database, **kwargs)

    monkeypatch.setattr(duckdb, "connect", connect)
    return calls


@pytest.mark.parametrize("read_only", [False, True])
def test_a_briefly_held_file_is_waited_for(
    read_only: bool, path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    duckdb.connect(str(path)).close()
    calls = _locked_for(monkeypatch, path, attempts=2)
    with WarehouseHook(CONN_ID).session(read_only=read_only) as warehouse:
        assert warehouse.rows("SELECT 1") == [(1,)]
    assert clock.sleeps == [0.25, 0.25]
    assert calls == [{"read_only": True}] * 3 if read_only else [{}] * 3


def test_a_file_held_too_long_is_one_busy_error(path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(module.BUSY_WAIT_ENV, "1")
    calls = _locked_for(monkeypatch, path, attempts=1000)
    with pytest.raises(WarehouseBusy) as err, WarehouseHook(CONN_ID).session(read_only=True):
        pass
    assert clock.sleeps == [0.25] * 4 and len(calls) == 5
    assert str(err.value) == busy_message(WarehouseHook(CONN_ID).connection, 1.0, "PID 4242")
    assert isinstance(err.value, WarehouseUnreachable)  # handlers of "cannot connect" still see it


def test_the_wait_given_to_the_session_wins_over_the_environment(
    path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(module.BUSY_WAIT_ENV, "60")
    _locked_for(monkeypatch, path, attempts=1000)
    with pytest.raises(WarehouseBusy, match="waited 0.5 s for it"), WarehouseHook(CONN_ID).session(wait_s=0.5):
        pass
    assert clock.sleeps == [0.25, 0.25]


def test_the_busy_message_names_connection_file_holder_wait_and_what_to_do(path: Path) -> None:
    message = busy_message(WarehouseHook(CONN_ID).connection, 2.04, "PID 7")
    assert message == (
        f"the warehouse of Airflow connection '{CONN_ID}' is busy: another process (PID 7) holds DuckDB's single "
        f"writer lock on {path} (usually a running pipeline task); waited 2.0 s for it\n"
        "    fix: try again when it finishes; nothing was changed (wait longer with DUALENGINE_BUSY_WAIT_S=<seconds>)"
    )
    assert "another process holds" in busy_message(WarehouseHook(CONN_ID).connection, 1, None)


def test_only_duckdbs_lock_conflict_counts_as_busy(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = duckdb.IOException(LOCKED.format(path="/data/lock/shop.duckdb"))
    assert is_lock_conflict(held) and lock_holder(held) == "PID 4242"
    missing = duckdb.IOException(
        'IO Error: Cannot open database "/data/lock/shop.duckdb" in read-only mode: database does not exist'
    )
    assert not is_lock_conflict(missing) and lock_holder(missing) is None
    # a real failure in a folder named "lock" is reported at once, not waited for
    file = tmp_path / "lock" / "shop.duckdb"
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "duckdb", "host": str(file)}))
    with pytest.raises(WarehouseUnreachable) as err, WarehouseHook(CONN_ID).session(read_only=True):
        pass
    assert not isinstance(err.value, WarehouseBusy) and clock.sleeps == []
    assert "this read-only command does not create it (the first pipeline task does)" in str(err.value)
    assert not file.exists()


@pytest.mark.parametrize(("raw", "seconds"), [(None, 10.0), ("", 10.0), ("2.5", 2.5), (" 30 ", 30.0), ("-1", 0.0)])
def test_the_wait_comes_from_the_environment(raw: str | None, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    if raw is None:
        monkeypatch.delenv(module.BUSY_WAIT_ENV, raising=False)
    else:
        monkeypatch.setenv(module.BUSY_WAIT_ENV, raw)
    assert busy_wait_s() == seconds


@pytest.mark.parametrize("raw", ["ten", "nan", "inf"])
def test_a_wait_that_is_not_a_number_of_seconds_is_refused(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(module.BUSY_WAIT_ENV, raw)
    with pytest.raises(WarehouseConnectionError, match=f"DUALENGINE_BUSY_WAIT_S is '{raw}', not a number of seconds"):
        busy_wait_s()


def test_a_read_only_duckdb_session_writes_nothing(path: Path) -> None:
    with WarehouseHook(CONN_ID).session() as warehouse:
        warehouse.create_table_if_missing("dualengine", "deployments", "id TEXT")
    with WarehouseHook(CONN_ID).session(read_only=True) as warehouse:
        assert warehouse.read_only
        warehouse.create_table_if_missing("dualengine", "deployments", "id TEXT")  # exists: nothing to do
        with pytest.raises(
            RuntimeError, match="dualengine.other does not exist and this read-only session cannot create it"
        ):
            warehouse.create_table_if_missing("dualengine", "other", "id TEXT")
        with pytest.raises(duckdb.Error, match="read-only mode"):
            warehouse.execute("INSERT INTO dualengine.deployments VALUES ('x')")
    with WarehouseHook(CONN_ID).session() as warehouse:
        assert warehouse.list_tables("dualengine") == ["deployments"]
        assert warehouse.row_count("dualengine", "deployments") == 0


def test_read_only_shares_a_file_this_process_already_has_open_read_write(path: Path) -> None:
    """Tasks under dag.test() run in one process: DuckDB refuses a second, differently
    configured open of the same file, so the read-only session uses the open one."""
    with WarehouseHook(CONN_ID).session() as writer:
        writer.execute("CREATE TABLE t AS SELECT 1 AS x")
        with WarehouseHook(CONN_ID).session(read_only=True) as reader:
            assert reader.rows("SELECT x FROM t") == [(1,)]
