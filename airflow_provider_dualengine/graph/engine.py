"""The two engines, as graph nodes name them."""

from enum import Enum


class Engine(str, Enum):
    SQLMESH = "sqlmesh"
    DBT = "dbt"
