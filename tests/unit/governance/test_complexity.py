"""The complexity score and the complex-window rule (governance/complexity.py) on
hand-written SQL: every count checked by hand against the documented formula
1 + joins + 2 x window functions + CTEs + deepest subquery nesting + set operations, capped at 10."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.governance.complexity import Complexity, UnparsableSql, measure


def test_a_plain_select_scores_one() -> None:
    counts = measure("select id, amount from orders where amount > 0", "duckdb")

    assert counts == Complexity(joins=0, windows=0, framed_windows=0, ctes=0, subquery_depth=0, set_operations=0)
    assert counts.score == 1
    assert counts.explain() == "1 = 1"
    assert not counts.complex_windows


def test_joins_and_ctes_count_one_each() -> None:
    sql = """
        with c as (select * from customers), o as (select * from orders)
        select c.id, sum(o.amount)
        from c
        join o on o.customer_id = c.id
        left join regions r on r.id = c.region_id
        group by c.id
    """
    counts = measure(sql, "duckdb")

    assert (counts.joins, counts.ctes, counts.score) == (2, 2, 5)
    assert counts.explain() == "1 + 2 joins + 2 CTEs = 5"


def test_nested_subqueries_count_their_depth_not_their_number() -> None:
    sql = """
        select id,
               (select max(amount) from orders o where o.customer_id = c.id) as biggest
        from customers c
        where id in (select customer_id from (select customer_id from orders where amount > 10) big)
          and exists (select 1 from refunds r where r.customer_id = c.id)
    """
    counts = measure(sql, "duckdb")

    # Four subqueries; the deepest chain is IN (SELECT ... FROM (SELECT ...)): 2 levels.
    assert counts.subquery_depth == 2
    assert counts.score == 3
    assert counts.explain() == "1 + 2 subquery levels = 3"


def test_a_subquery_inside_a_cte_counts_from_the_cte() -> None:
    counts = measure("with a as (select * from (select 1 as x) s) select x from a", "duckdb")

    assert (counts.ctes, counts.subquery_depth, counts.score) == (1, 1, 3)


def test_set_operations_count_one_each() -> None:
    counts = measure("select 1 union all select 2 except select 3", "duckdb")

    assert counts.set_operations == 2
    assert counts.score == 3


def test_a_window_function_counts_twice() -> None:
    counts = measure("select id, row_number() over (partition by customer_id order by day) as n from orders", "duckdb")

    assert (counts.windows, counts.framed_windows, counts.score) == (1, 0, 3)
    assert counts.explain() == "1 + 2 x 1 window function = 3"


def test_one_ranking_is_not_complex() -> None:
    counts = measure("select row_number() over (partition by customer_id order by day) as n from orders", "duckdb")

    assert not counts.complex_windows
    assert counts.explain_windows() == "1 window function, no frame clause"


def test_one_window_with_a_frame_clause_is_complex() -> None:
    sql = "select sum(amount) over (partition by customer_id order by day rows between 6 preceding and current row) from orders"
    counts = measure(sql, "duckdb")

    assert counts.complex_windows
    assert counts.explain_windows() == "1 window function, 1 with a frame clause"


def test_two_unframed_window_functions_are_complex() -> None:
    sql = "select rank() over (order by amount), lag(amount) over (partition by customer_id order by day) from orders"
    counts = measure(sql, "duckdb")

    assert (counts.windows, counts.framed_windows, counts.complex_windows) == (2, 0, True)


def test_a_named_window_definition_is_not_a_function() -> None:
    counts = measure("select rank() over w from orders window w as (partition by customer_id order by day)", "duckdb")

    assert counts.windows == 1
    assert not counts.complex_windows


def test_the_score_is_capped_at_ten() -> None:
    sql = """
        with a as (select 1 as x), b as (select x from a)
        select x,
               sum(x) over (order by x rows between unbounded preceding and current row),
               avg(x) over (order by x),
               max(x) over (order by x)
        from b join a using (x) join a a2 using (x)
    """
    counts = measure(sql, "duckdb")

    # 1 + 2 joins + 2 x 3 windows + 2 CTEs = 11 -> 10
    assert counts.score == 10
    assert counts.explain() == "1 + 2 joins + 2 x 3 window functions + 2 CTEs = 10 (capped at 10)"


def test_statements_are_summed() -> None:
    counts = measure("select * from a join b on a.id = b.id; select * from c join d on c.id = d.id", "duckdb")

    assert (counts.joins, counts.score) == (2, 3)


def test_the_dialect_is_used_for_parsing() -> None:
    counts = measure("select id::integer, amount from orders qualify row_number() over (order by id) = 1", "duckdb")

    assert counts.windows == 1


@pytest.mark.parametrize("sql", ["selec from", "", "   "])
def test_unparsable_sql_is_an_error_the_caller_reports(sql: str) -> None:
    with pytest.raises(UnparsableSql):
        measure(sql, "duckdb")
