"""A user-given model name to one model, on a hand-built graph of both engines."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.names import UnknownModel, resolve_model

from ._synthetic import unified_graph


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("staging.orders", (Engine.SQLMESH, "staging.orders")),
        ("sqlmesh:staging.orders", (Engine.SQLMESH, "staging.orders")),
        ("summary", (Engine.SQLMESH, "reporting.summary")),  # a unique short name
        ("mart", (Engine.DBT, "mart")),
        ("dbt:customers", (Engine.DBT, "customers")),
        ("sqlmesh:customers", (Engine.SQLMESH, "staging.customers")),
    ],
)
def test_names_that_mean_one_model(name: str, key: tuple[Engine, str]) -> None:
    assert resolve_model(unified_graph(), name) == key


def test_a_short_name_in_both_engines_is_ambiguous() -> None:
    with pytest.raises(UnknownModel) as raised:
        resolve_model(unified_graph(), "customers")
    assert raised.value.candidates == [(Engine.SQLMESH, "staging.customers"), (Engine.DBT, "customers")]
    assert str(raised.value) == (
        "model 'customers' is ambiguous: sqlmesh:staging.customers, dbt:customers\n"
        "    fix: give the engine or the full name, e.g. sqlmesh:staging.customers"
    )


def test_an_unknown_name_suggests_close_ones() -> None:
    with pytest.raises(UnknownModel) as raised:
        resolve_model(unified_graph(), "sqlmesh:staging.ordrs")
    assert raised.value.candidates == []
    assert str(raised.value) == (
        "model 'sqlmesh:staging.ordrs': no such model in either project (SQLMesh or dbt)\n"
        "    fix: did you mean staging.orders, staging.customers, raw.orders? name a SQLMesh model as schema.table, a dbt model by its name, or either with its engine (sqlmesh:..., dbt:...)"
    )


def test_model_assets_reports_names_in_its_own_words() -> None:
    """The Asset list resolves through the same function and keeps its messages."""
    from airflow_provider_dualengine.factory.model_assets import _resolve

    graph = unified_graph()
    assert _resolve(graph, "mart") == ((Engine.DBT, "mart", "analytics.mart"), "")
    assert _resolve(graph, "customers") == (
        None,
        "'customers' is in both engines (sqlmesh:staging.customers, dbt:customers)",
    )
    assert _resolve(graph, "nothing") == (None, "'nothing' is not a model of this project")
