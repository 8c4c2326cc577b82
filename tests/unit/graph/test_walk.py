"""The graph layer's one breadth-first walk, on hand-built graphs."""

from __future__ import annotations

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.graph.impact import downstream_columns
from airflow_provider_dualengine.graph.walk import breadth_first, children_of

from ._synthetic import unified_graph


def test_nearest_first_each_node_once_start_left_out() -> None:
    # a -> b -> d, a -> c -> d, d -> e: a diamond with a tail
    children = children_of([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")])
    assert breadth_first("a", children) == ["b", "c", "d", "e"]
    assert breadth_first("d", children) == ["e"]
    assert breadth_first("e", children) == []
    assert breadth_first("unknown", children) == []


def test_a_cycle_ends_the_walk_without_returning_to_the_start() -> None:
    children = children_of([("a", "b"), ("b", "c"), ("c", "a")])
    assert breadth_first("a", children) == ["b", "c"]


def test_children_keep_the_order_their_pairs_came_in() -> None:
    assert children_of([(1, 3), (1, 2), (2, 4)]) == {1: [3, 2], 2: [4]}
    assert breadth_first(1, children_of([(1, 3), (1, 2), (2, 4)])) == [3, 2, 4]


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    depth = 20_000
    children = children_of((i, i + 1) for i in range(depth))
    assert breadth_first(0, children) == list(range(1, depth + 1))


def test_models_downstream_across_engines() -> None:
    graph = unified_graph().models_graph
    assert graph.downstream_of((Engine.SQLMESH, "raw.orders")) == [
        (Engine.SQLMESH, "staging.orders"),
        (Engine.DBT, "mart"),  # a dbt source over the SQLMesh model
        (Engine.SQLMESH, "reporting.summary"),  # reads the dbt model's table
    ]
    assert graph.downstream_of((Engine.DBT, "customers")) == []


def test_columns_downstream() -> None:
    edges = [{"from": "x:a.c", "to": "x:b.c"}, {"from": "x:b.c", "to": "x:c.c"}, {"from": "x:a.c", "to": "x:c.c"}]
    assert downstream_columns(edges, "x:a.c") == ["x:b.c", "x:c.c"]
    assert downstream_columns(edges, "x:c.c") == []
