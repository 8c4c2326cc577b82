"""The webhook notifier posts JSON to a real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from airflow_provider_dualengine.notifications.webhook import ALERT_KEY, WebhookNotifier


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], got
    server.shutdown()


def test_an_alert_is_posted_as_json(receiver) -> None:
    port, got = receiver
    alert = {"rule": "performance_degradation", "severity": "medium", "models": ["dbt:customer_value"]}
    WebhookNotifier(url=f"http://127.0.0.1:{port}/hooks/team").notify({ALERT_KEY: alert})
    assert got == [{"path": "/hooks/team", "auth": None, "body": alert}]


def test_the_endpoint_can_come_from_a_connection_with_basic_auth(receiver, monkeypatch) -> None:
    port, got = receiver
    conn = {
        "conn_type": "http",
        "host": "http://127.0.0.1/hooks/oncall",
        "port": port,
        "login": "bot",
        "password": "pw",
    }
    monkeypatch.setenv("AIRFLOW_CONN_ONCALL_WEBHOOK", json.dumps(conn))
    asyncio.run(WebhookNotifier(conn_id="oncall_webhook").async_notify({ALERT_KEY: {"rule": "lag"}}))
    assert [(g["path"], g["auth"], g["body"]) for g in got] == [("/hooks/oncall", "Basic Ym90OnB3", {"rule": "lag"})]


def test_a_notifier_needs_somewhere_to_post() -> None:
    with pytest.raises(ValueError, match="needs `url` or `conn_id`"):
        WebhookNotifier()
