"""Airflow's own REST API, for what a task or our CLI may not do directly: create and
resize pools. Airflow 3 tasks have no metadata-DB access, and pools are the scheduler's.

Credentials come from an Airflow connection (`dualengine_airflow_api` by default; type
http: host = the api-server URL, login + password exchanged at `/auth/token`, or a
token in extra `{"token": ...}`), never from code or logs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.redact import redact

DEFAULT_CONN_ID = "dualengine_airflow_api"


class AirflowApiError(RuntimeError):
    pass


class AirflowApiHook(BaseHook):
    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "http"
    hook_name = "Airflow REST API"

    def __init__(
        self,
        airflow_api_conn_id: str = DEFAULT_CONN_ID,
        *,
        base_url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 30,
    ):
        super().__init__()
        self.conn_id = airflow_api_conn_id
        self._explicit = base_url is not None
        self.base_url, self.username, self.password, self.token = base_url, username, password, token
        self.timeout = timeout

    def _credentials(self) -> None:
        if self._explicit or self.base_url:
            return
        from airflow_provider_dualengine.hooks.connections import get_connection

        conn = get_connection(self.conn_id)
        host = conn.host or ""
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}" + (f":{conn.port}" if conn.port else "")
        self.base_url = host.rstrip("/")
        self.username, self.password = conn.login, conn.password
        extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
        self.token = extra.get("token") or self.token

    def _bearer(self) -> str:
        self._credentials()
        if not self.token:
            if not self.username:
                raise AirflowApiError(
                    f"no credentials for the Airflow API at {self.base_url}: set login/password (or extra token) on connection '{self.conn_id}'"
                )
            answer = self._request(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            self.token = answer["access_token"]
        return self.token

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        self._credentials()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._bearer()}"
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - URL from the connection
                payload = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode(errors="replace")
            secrets = [self.password or "", self.token or ""]
            raise AirflowApiError(
                redact(f"{method} {self.base_url}{path} -> HTTP {exc.code}: {detail}", secrets)
            ) from None
        except OSError as exc:
            raise AirflowApiError(
                redact(f"{method} {self.base_url}{path}: cannot reach the Airflow API ({exc})", [self.password or ""])
            ) from None
        return json.loads(payload) if payload else None

    def pool(self, name: str) -> dict[str, Any] | None:
        """The pool, or None when the cluster has none of that name (one GET per pool: a
        listing is paged at `[api] maximum_page_limit`)."""
        try:
            return self._request("GET", f"/api/v2/pools/{urllib.parse.quote(name, safe='')}")
        except AirflowApiError as exc:
            if " -> HTTP 404" in str(exc):
                return None
            raise

    def upsert_pool(self, name: str, slots: int, description: str, existing: dict[str, Any] | None = None) -> str:
        """Create the pool or set its slots and description; "created", "updated" or "unchanged"."""
        quoted = urllib.parse.quote(name, safe="")
        if existing is None:
            self._request("POST", "/api/v2/pools", {"name": name, "slots": slots, "description": description})
            return "created"
        if existing.get("slots") == slots and existing.get("description") == description:
            return "unchanged"
        body = {
            "name": name,
            "slots": slots,
            "description": description,
            "include_deferred": bool(existing.get("include_deferred", False)),  # PATCH replaces the whole pool
        }
        self._request("PATCH", f"/api/v2/pools/{quoted}", body)
        return "updated"
