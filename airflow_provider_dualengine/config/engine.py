"""The two engines, as every layer names them (config, compiled artifact, graph, factory)."""

from enum import Enum


class Engine(str, Enum):
    SQLMESH = "sqlmesh"
    DBT = "dbt"
