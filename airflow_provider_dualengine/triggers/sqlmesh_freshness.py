"""Wait in the triggerer, not in a worker slot, until a SQLMesh model is complete up to a time.

Each poll is the synchronous state check (engines/sqlmesh/freshness.py) run in a thread,
so a slow state database never blocks the triggerer's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class SQLMeshModelFreshTrigger(BaseTrigger):
    """Fires once: `ready`, `timeout` (after `timeout` seconds of polling) or `error`.

    The event carries the last check (`ModelFreshness.as_event()`) so the task can say
    what was complete when it gave up.

    :param target: ISO timestamp the model's intervals must reach.
    """

    def __init__(
        self,
        *,
        project_path: str | None,
        model: str,
        environment: str,
        target: str,
        gateway: str | None = None,
        conn_id: str | None = "dualengine_warehouse",
        state_conn_id: str | None = None,
        poke_interval: float = 60.0,
        timeout: float = 60 * 60 * 24 * 7,
    ):
        super().__init__()
        self.project_path = project_path
        self.model = model
        self.environment = environment
        self.target = target
        self.gateway = gateway
        self.conn_id = conn_id
        self.state_conn_id = state_conn_id
        self.poke_interval = float(poke_interval)
        self.timeout = float(timeout)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "project_path": self.project_path,
                "model": self.model,
                "environment": self.environment,
                "target": self.target,
                "gateway": self.gateway,
                "conn_id": self.conn_id,
                "state_conn_id": self.state_conn_id,
                "poke_interval": self.poke_interval,
                "timeout": self.timeout,
            },
        )

    def check(self) -> Any:
        """One synchronous state check (a ModelFreshness)."""
        from airflow_provider_dualengine.hooks.sqlmesh import SQLMeshHook

        hook = SQLMeshHook(
            self.project_path, gateway=self.gateway, conn_id=self.conn_id, state_conn_id=self.state_conn_id
        )
        return hook.model_freshness(self.model, self.environment, self.target)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                result = await asyncio.to_thread(self.check)
            except Exception as exc:  # the task reports it; retries are the task's business
                yield TriggerEvent(
                    {
                        "status": "error",
                        "model": self.model,
                        "environment": self.environment,
                        "target": self.target,
                        "reason": f"{type(exc).__name__}: {exc}",
                    }
                )
                return
            remaining = deadline - time.monotonic()
            if result.ready or remaining <= 0:
                yield TriggerEvent({**result.as_event(), "status": "ready" if result.ready else "timeout"})
                return
            self.log.info("Waiting for %s in '%s': %s", self.model, self.environment, result.reason)
            await asyncio.sleep(min(self.poke_interval, remaining))
