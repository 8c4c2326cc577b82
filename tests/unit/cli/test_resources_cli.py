"""`dualengine resources show|apply`: the effective allocation, and pools brought to it
through an Airflow-REST-shaped server on 127.0.0.1 (the real api-server: on_cluster/test_resources.py)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PROJECT
from tests.unit.cli._corpus import run_cli


class _Pools(BaseHTTPRequestHandler):
    pools: dict[str, dict] = {}
    requests: list[tuple[str, str, dict | None, str | None]] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> dict | None:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        self.requests.append(("POST", self.path, body, self.headers.get("Authorization")))
        if self.path == "/auth/token":
            if body == {"username": "admin", "password": "s3cret-pw"}:
                return self._reply(201, {"access_token": "tok-123"})
            return self._reply(401, {"detail": "Invalid credentials"})
        if self.headers.get("Authorization") != "Bearer tok-123":
            return self._reply(401, {"detail": "Not authenticated"})
        self.pools[body["name"]] = body
        return self._reply(201, body)

    def do_PATCH(self) -> None:  # noqa: N802
        body = self._body()
        self.requests.append(("PATCH", self.path, body, self.headers.get("Authorization")))
        if "include_deferred" not in body:  # Airflow 3.3's PATCH replaces the whole pool
            return self._reply(422, {"detail": [{"type": "missing", "loc": ["include_deferred"]}]})
        self.pools[body["name"]] = body
        return self._reply(200, body)

    def do_GET(self) -> None:  # noqa: N802
        self.requests.append(("GET", self.path, None, self.headers.get("Authorization")))
        if self.headers.get("Authorization") != "Bearer tok-123":
            return self._reply(401, {"detail": "Not authenticated"})
        name = self.path.removeprefix("/api/v2/pools/")
        if name not in self.pools:
            return self._reply(404, {"detail": f"The Pool with name: `{name}` was not found"})
        return self._reply(200, self.pools[name])


@pytest.fixture
def api():
    _Pools.pools = {"default_pool": {"name": "default_pool", "slots": 128, "description": "Default pool"}}
    _Pools.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pools)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_show_prints_each_engines_pool_slots_and_why(capsys, postgres_project_copy: Path) -> None:
    code, out, _ = run_cli(
        capsys, "resources", "show", postgres_project_copy, "-e", "production", "--at", "2026-12-07T12:00"
    )
    assert code == 0
    assert "window peak_hours" in out
    assert "production    sqlmesh  dualengine_shop_production_sqlmesh           3  limited" in out
    assert "production    dbt      dualengine_shop_production_dbt               7  full" in out
    assert "slots: 70% of 10 warehouse slots (shared_resources.staging_warehouse) in peak_hours" in out
    code, out, _ = run_cli(
        capsys, "resources", "show", postgres_project_copy, "--at", "2026-12-08T00:00+01:00", "--json"
    )
    document = json.loads(out)
    assert document["window"] == "off_peak_hours"
    assert document["environments"]["development"]["dbt"]["execution"] == "maintenance_only"
    # development: 80% / 20% of its own 4 slots (sqlmesh 2 + dbt threads 2, under the shared 10)
    assert document["environments"]["development"]["sqlmesh"]["slots"] == 3
    assert document["environments"]["development"]["dbt"]["slots"] == 1
    assert document["at"] == "2026-12-07T23:00:00+00:00"


def test_show_on_duckdb_says_the_writer_pool_serialises_both_engines(capsys) -> None:
    code, out, _ = run_cli(capsys, "resources", "show", EXAMPLE_PROJECT, "--at", "2026-12-07T12:00")
    assert code == 0
    assert "every writer of both engines queues in the one-slot pool 'dualengine_warehouse'" in out


def test_apply_creates_then_resizes_pools_with_the_api_token(
    capsys, monkeypatch, postgres_project_copy: Path, api: str
) -> None:
    monkeypatch.setenv("DUALENGINE_API_PASSWORD", "s3cret-pw")
    code, out, err = run_cli(
        capsys, "resources", "apply", postgres_project_copy, "--api-url", api, "--username", "admin"
    )
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.endswith("- created")]) == 4
    assert set(_Pools.pools) == {
        "default_pool",
        "dualengine_shop_development_sqlmesh",
        "dualengine_shop_development_dbt",
        "dualengine_shop_production_sqlmesh",
        "dualengine_shop_production_dbt",
    }
    assert all(auth == "Bearer tok-123" for method, path, _, auth in _Pools.requests if path != "/auth/token")
    assert "s3cret-pw" not in out + err
    # unchanged on a second apply; a changed allocation resizes
    code, out, _ = run_cli(capsys, "resources", "apply", postgres_project_copy, "--api-url", api, "--username", "admin")
    assert out.count("- unchanged") == 4
    path = postgres_project_copy / "config" / "resources.yml"
    path.write_text(
        path.read_text().replace(
            "max_concurrent_queries: 10\n\nexecution_schedule", "max_concurrent_queries: 20\n\nexecution_schedule"
        )
    )
    code, out, _ = run_cli(
        capsys, "resources", "apply", postgres_project_copy, "-e", "production", "--api-url", api, "--username", "admin"
    )
    assert code == 0 and "dualengine_shop_development" not in out
    patched = [body for method, _, body, _ in _Pools.requests if method == "PATCH"]
    assert {b["name"]: b["slots"] for b in patched} == {
        "dualengine_shop_production_sqlmesh": _Pools.pools["dualengine_shop_production_sqlmesh"]["slots"],
        "dualengine_shop_production_dbt": _Pools.pools["dualengine_shop_production_dbt"]["slots"],
    }
    # the shared warehouse's cap (10) bound production's own 18 slots (sqlmesh 10 + dbt threads 8);
    # at 20 it no longer does: the window's shares of 18
    assert sum(b["slots"] for b in patched) == 18


def test_apply_with_wrong_credentials_names_the_api_not_the_password(
    capsys, monkeypatch, postgres_project_copy: Path, api: str
) -> None:
    monkeypatch.setenv("DUALENGINE_API_PASSWORD", "wrong-pw-1")
    code, out, err = run_cli(
        capsys, "resources", "apply", postgres_project_copy, "--api-url", api, "--username", "admin"
    )
    assert code != 0
    assert f"POST {api}/auth/token -> HTTP 401" in err
    assert "wrong-pw-1" not in out + err
    assert "Traceback" not in err and "--debug" not in err
    assert set(_Pools.pools) == {"default_pool"}
