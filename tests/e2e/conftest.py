"""Fixtures shared by the end-to-end tests: the example project on DuckDB or PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.warehouses import Warehouse, duckdb_warehouse, postgres_warehouse


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metadata_db) -> Warehouse:
    from airflow_provider_dualengine.cli.local_airflow import ensure_pool

    if request.param == "duckdb":
        wh = duckdb_warehouse(tmp_path / "warehouse" / "shop.duckdb")
    else:
        server, dbname = request.getfixturevalue("postgres_database")
        wh = postgres_warehouse(server, dbname)
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", wh.env_json())
    ensure_pool("dualengine_warehouse")
    return wh


@pytest.fixture
def shop(project_copy: Path, warehouse: Warehouse) -> Path:
    if warehouse.kind == "postgres":
        settings = project_copy / "dualengine.yml"
        settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    return project_copy


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[tuple[str, dict[str, Any]]]]]:
    """(base URL, [(path, JSON body)]): an alert receiver on 127.0.0.1."""
    got: list[tuple[str, dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", got
    server.shutdown()
