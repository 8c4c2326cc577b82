"""The SQLMesh project's own config, with one gateway's connections replaced.

Used at run time (connections from Airflow) and at compile time (an offline in-memory
DuckDB), so the project's `config.yaml` never needs credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_project_config(project_path: Path, gateway: str | None = None, **connections: Any) -> tuple[Any, str]:
    """(Config, gateway name). `connections` are GatewayConfig fields to replace, e.g.
    `connection=`, `state_connection=`; None values are left as the project has them."""
    from sqlmesh.core.config import Config
    from sqlmesh.core.config.loader import load_configs

    config = next(iter(load_configs(None, Config, [project_path]).values()))
    gateway_name = (gateway or config.default_gateway or next(iter(config.gateways), "")).lower()
    update = {field: value for field, value in connections.items() if value is not None}
    if update:
        replaced = config.get_gateway(gateway_name).model_copy(update=update)
        config = config.model_copy(update={"gateways": {**config.gateways, gateway_name: replaced}})
    return config, gateway_name
