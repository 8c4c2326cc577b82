"""Post an alert (or a task/DAG callback's context) as JSON to an HTTP endpoint.

Airflow delivers our alerts through any `BaseNotifier` (Slack, SMTP, ... from their
providers); this one needs nothing but the standard library, for chat webhooks, incident
tools and tests. The URL comes from an Airflow connection (`conn_id`: its host, with the
scheme and path, and optional login/password for basic auth) or is given directly; it is
never logged with its credentials.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseNotifier

ALERT_KEY = "dualengine_alert"  # context key holding the alert payload (monitoring/alerts.py)


class WebhookNotifier(BaseNotifier):
    """:param url: the endpoint (templated), when no `conn_id` is given.
    :param conn_id: an Airflow connection whose host (e.g. `https://hooks.example.com/T/B`)
        is the endpoint; login/password, if set, are sent as basic auth.
    :param timeout_s: seconds before the POST gives up (the caller logs the failure)."""

    template_fields: Sequence[str] = ("url",)

    def __init__(self, *, url: str | None = None, conn_id: str | None = None, timeout_s: float = 10.0, **kwargs: Any):
        super().__init__(**kwargs)
        if not url and not conn_id:
            raise ValueError("WebhookNotifier needs `url` or `conn_id`")
        self.url = url
        self.conn_id = conn_id
        self.timeout_s = timeout_s

    def payload(self, context: Any) -> dict[str, Any]:
        """The alert when one is being delivered; else what a callback's context says."""
        if context.get(ALERT_KEY):
            return dict(context[ALERT_KEY])
        ti = context.get("ti")
        return {
            "dag_id": getattr(context.get("dag"), "dag_id", None),
            "run_id": getattr(context.get("dag_run"), "run_id", None),
            "task_id": getattr(ti, "task_id", None),
            "state": str(getattr(ti, "state", "")) or None,
        }

    def _request(self, body: dict[str, Any]) -> urllib.request.Request:
        url, headers = self.url, {"Content-Type": "application/json"}
        if self.conn_id:
            from airflow.sdk import BaseHook

            conn = BaseHook.get_connection(self.conn_id)
            host = conn.host or ""
            url = host if "://" in host else f"{conn.schema or 'https'}://{host}"
            if conn.port:
                scheme, _, rest = url.partition("://")
                host, slash, path = rest.partition("/")
                url = f"{scheme}://{host}:{conn.port}{slash}{path}"
            if conn.login:
                token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode()
                headers["Authorization"] = f"Basic {token}"
        return urllib.request.Request(
            str(url), data=json.dumps(body, default=str).encode(), headers=headers, method="POST"
        )

    def notify(self, context: Any) -> None:
        with urllib.request.urlopen(self._request(self.payload(context)), timeout=self.timeout_s) as response:
            response.read()

    async def async_notify(self, context: Any) -> None:
        """For Deadline Alerts, which run notifiers in the triggerer."""
        await asyncio.to_thread(self.notify, context)
