"""`Engine` for callers of the graph layer; it lives in `config.engine`, below every layer."""

from airflow_provider_dualengine.config.engine import Engine

__all__ = ["Engine"]
