"""The operator CLI beside a running pipeline: the read-only verbs open the warehouse
read-only, wait a bounded time for a DuckDB file another process holds, then exit 3 with
a message saying who holds it and that nothing changed; they never create anything. On
PostgreSQL a read-only session refuses every write.

A "pipeline task" here is a real second process holding the DuckDB file read-write."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.warehouses import duckdb_warehouse, postgres_warehouse

pytestmark = pytest.mark.slow

CLI = str(Path(sys.executable).with_name("dualengine"))
CONN_ID = "dualengine_warehouse"

# Holds the file like a pipeline task: opens it (read-write unless told), optionally
# records one deployment, says "ready", keeps it for the given seconds, exits.
HOLDER = """
import sys, time
import duckdb

path, seconds, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
db = duckdb.connect(path, read_only=mode == "read_only")
if mode == "record":
    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.hooks.warehouse import Warehouse

    records.start(Warehouse(db.cursor(), "duckdb"), "production-held-1", "production", "holder", "plan-1", "blue@abc")
print("ready", flush=True)
time.sleep(seconds)
"""


class Holder:
    """A second process holding the DuckDB file until it exits."""

    def __init__(self, path: Path, seconds: float, mode: str = "read_write"):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), str(seconds), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        assert line.strip() == "ready", (line, self.process.stderr.read() if self.process.stderr else "")
        self.ready_at = time.monotonic()

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.running():
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.stop()


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    """An existing, empty DuckDB file (what the first pipeline task would find)."""
    path = tmp_path / "warehouse" / "shop.duckdb"
    path.parent.mkdir()
    duckdb.connect(str(path)).close()
    return path


def _cli(
    connection: str, *argv: str, wait_s: float, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {
        **os.environ,
        f"AIRFLOW_CONN_{CONN_ID.upper()}": connection,
        "DUALENGINE_BUSY_WAIT_S": str(wait_s),
        "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }
    started = time.monotonic()
    result = subprocess.run([CLI, *argv], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return result, time.monotonic() - started


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _schemas(path: Path) -> set[str]:
    return duckdb_warehouse(path).schemas()


VERBS = {
    "deployments": ("deployments", "{P}", "-e", "production"),
    "contracts diff --against-prod": ("contracts", "diff", "{P}", "--against-prod"),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_a_read_only_verb_gives_up_on_a_held_file_with_exit_3_and_says_why(
    verb: str, project_copy: Path, warehouse_file: Path, holders: list[Holder]
) -> None:
    holder = Holder(warehouse_file, seconds=20)
    holders.append(holder)
    argv = [a.format(P=project_copy) for a in VERBS[verb]]
    result, seconds = _cli(duckdb_warehouse(warehouse_file).env_json(), *argv, wait_s=1)

    assert result.returncode == 3, result.stdout + result.stderr
    assert holder.running(), "the holder let go before the CLI gave up: the test proves nothing"
    assert seconds < 15, f"took {seconds:.1f} s with DUALENGINE_BUSY_WAIT_S=1"
    assert result.stdout == ""
    assert result.stderr == (
        f"error: the warehouse of Airflow connection '{CONN_ID}' is busy: another process (PID {holder.pid}) holds "
        f"DuckDB's single writer lock on {warehouse_file} (usually a running pipeline task); waited 1.0 s for it\n"
        "    fix: try again when it finishes; nothing was changed (wait longer with DUALENGINE_BUSY_WAIT_S=<seconds>)\n"
    )


def test_the_listing_waits_for_a_task_that_lets_go_and_then_answers(
    project_copy: Path, warehouse_file: Path, holders: list[Holder]
) -> None:
    """The holder records a deployment and keeps the file for longer than the CLI takes to
    start: the CLI meets the lock, waits, and lists the record once the holder exits."""
    holder = Holder(warehouse_file, seconds=3, mode="record")
    holders.append(holder)
    result, _ = _cli(
        duckdb_warehouse(warehouse_file).env_json(), "deployments", str(project_copy), "-e", "production", wait_s=10
    )
    waited_until = time.monotonic()

    assert result.returncode == 0, result.stdout + result.stderr
    assert waited_until - holder.ready_at >= 3, "the CLI finished while the holder still held the file"
    assert not holder.running()
    [line] = result.stdout.splitlines()
    assert line.startswith("production-held-1  running ") and line.endswith("by holder  sqlmesh plan-1  dbt blue@abc")
    assert result.stderr == ""


def test_with_nothing_recorded_the_listing_says_so(
    project_copy: Path, warehouse_file: Path, holders: list[Holder]
) -> None:
    holders.append(holder := Holder(warehouse_file, seconds=1.5))
    result, _ = _cli(
        duckdb_warehouse(warehouse_file).env_json(), "deployments", str(project_copy), "-e", "production", wait_s=10
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "no deployments of 'production' recorded yet\n"
    assert not holder.running()


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_read_only_verbs_share_the_file_with_a_reader_and_change_nothing(
    verb: str, project_copy: Path, warehouse_file: Path, holders: list[Holder]
) -> None:
    """A fresh file stays byte for byte the same (no `dualengine` schema, no records table),
    and a read-only opener alongside does not block the CLI: it never asked to write."""
    before = _digest(warehouse_file)
    holders.append(reader := Holder(warehouse_file, seconds=30, mode="read_only"))
    argv = [a.format(P=project_copy) for a in VERBS[verb]]
    result, _ = _cli(duckdb_warehouse(warehouse_file).env_json(), *argv, wait_s=1)

    assert reader.running()
    if verb == "deployments":
        assert (result.returncode, result.stdout) == (0, "no deployments of 'production' recorded yet\n"), result.stderr
    else:  # nothing deployed: every contracted column is missing from prod
        assert result.returncode == 1, result.stdout + result.stderr
        assert "is missing from the live table (live_column_missing)" in result.stdout
    assert "busy" not in result.stderr and "lock" not in result.stderr
    reader.stop()
    assert _digest(warehouse_file) == before
    assert "dualengine" not in _schemas(warehouse_file)


def test_a_missing_duckdb_file_is_not_created_by_a_read_only_verb(project_copy: Path, tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "shop.duckdb"
    path.parent.mkdir()
    result, _ = _cli(duckdb_warehouse(path).env_json(), "deployments", str(project_copy), "-e", "production", wait_s=1)
    assert result.returncode == 1
    assert (
        f"error: cannot connect to the warehouse of Airflow connection '{CONN_ID}' (duckdb://{path}): IOException:"
        in result.stderr
    )
    assert "this read-only command does not create it (the first pipeline task does)" in result.stderr
    assert not path.exists()


@pytest.mark.parametrize("autocommit", [False, True])
def test_a_postgres_read_only_session_refuses_every_write(postgres_database, autocommit: bool) -> None:
    import psycopg2
    from airflow.models.connection import Connection

    from airflow_provider_dualengine.hooks.warehouse import open_warehouse

    server, dbname = postgres_database
    target = postgres_warehouse(server, dbname)
    conn = Connection(conn_id=CONN_ID, **{k: v for k, v in target.connection.items()})
    with open_warehouse(conn, autocommit, read_only=True) as warehouse:
        assert warehouse.rows("SELECT 41 + 1") == [(42,)]
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            warehouse.execute("CREATE TABLE refused (x INTEGER)")
        if not autocommit:
            warehouse.cursor.connection.rollback()
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), warehouse.transaction():
            warehouse.execute("CREATE SCHEMA dualengine")
        with pytest.raises(RuntimeError, match="dualengine.deployments does not exist and this read-only session"):
            warehouse.create_table_if_missing("dualengine", "deployments", "id TEXT")
    assert target.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'refused'") == 0
    assert "dualengine" not in target.schemas()


def test_the_listing_on_postgres_reads_records_and_creates_nothing(project_copy: Path, postgres_database) -> None:
    from airflow.models.connection import Connection

    from airflow_provider_dualengine.deployments import records
    from airflow_provider_dualengine.hooks.warehouse import open_warehouse

    settings = project_copy / "dualengine.yml"
    settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    target = postgres_warehouse(*postgres_database)
    argv = ("deployments", str(project_copy), "-e", "production")

    result, _ = _cli(target.env_json(), *argv, wait_s=1)
    assert (result.returncode, result.stdout) == (0, "no deployments of 'production' recorded yet\n"), result.stderr
    assert "dualengine" not in target.schemas()

    conn = Connection(conn_id=CONN_ID, **target.connection)
    with open_warehouse(conn, autocommit=True) as warehouse:
        records.start(warehouse, "production-pg-1", "production", "tester", "plan-pg", "blue@pg")
    result, _ = _cli(target.env_json(), *argv, "--json", wait_s=1)
    assert result.returncode == 0, result.stderr
    assert [(r["id"], r["status"]) for r in json.loads(result.stdout)] == [("production-pg-1", "running")]
