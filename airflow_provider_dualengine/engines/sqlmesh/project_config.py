"""The SQLMesh project's own config, with one gateway's connections replaced.

Used at run time (connections from Airflow) and at compile time (an offline in-memory
DuckDB), so the project's `config.yaml` never needs credentials.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class UnknownGateway(ValueError):
    """The gateway asked for (or the project's `default_gateway`) is not in the SQLMesh config."""

    def __init__(self, name: str, known: list[str] | None, from_default: bool = False):
        self.name, self.known, self.from_default = name, known, from_default
        have = f"its gateways are: {', '.join(known)}" if known else "it configures a single unnamed gateway"
        super().__init__(f"the SQLMesh project has no gateway '{name}' ({have})")


def load_project_config(project_path: Path, gateway: str | None = None, **connections: Any) -> tuple[Any, str | None]:
    """(Config, gateway name). `connections` are GatewayConfig fields to replace, e.g.
    `connection=`, `state_connection=`; None values are left as the project has them.

    Raises UnknownGateway when `gateway` (or the config's `default_gateway`) is not one of
    the project's gateways; SQLMesh's own errors (a broken config.yaml) pass through."""
    from sqlmesh.core.config import Config
    from sqlmesh.core.config.loader import load_configs

    config = next(iter(load_configs(None, Config, [project_path]).values()))
    gateways = config.gateways if isinstance(config.gateways, dict) else None
    if gateways is None:  # `gateways:` is one unnamed gateway: SQLMesh takes no name then
        if gateway:
            raise UnknownGateway(gateway, None)
        gateway_name = None
    else:
        gateway_name = (gateway or config.default_gateway or next(iter(gateways), "")).lower()
        if gateway_name not in gateways:
            raise UnknownGateway(gateway_name, sorted(gateways), from_default=not gateway)
    update = {field: value for field, value in connections.items() if value is not None}
    if update:
        replaced = config.get_gateway(gateway_name).model_copy(update=update)
        config = config.model_copy(
            update={"gateways": {**gateways, gateway_name: replaced} if gateways is not None else replaced}
        )
    return config, gateway_name


def gateway_names(config: Any) -> list[str] | None:
    """The named gateways of a loaded config; None for a single unnamed gateway."""
    return sorted(config.gateways) if isinstance(config.gateways, dict) else None
