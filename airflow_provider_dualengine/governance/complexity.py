"""How complex a model's SQL is, read from its sqlglot syntax tree (never from the text).

Complexity score (1-10), of the rendered SQLMesh query or the compiled dbt SQL:

    1 + joins + 2 x window functions + CTEs + deepest subquery nesting + set operations

capped at 10. Each counts what a reader has to hold in mind: a join, a named step (CTE),
a query inside a query (a derived table, `IN (SELECT ...)`, a scalar subquery or
`EXISTS (...)`; nested ones count their depth, not their number), a UNION / INTERSECT /
EXCEPT. A window function counts twice: its partition, order and frame are a query's
worth of semantics. A named window definition (`WINDOW w AS (...)`) is not a function.

Complex window functions: the query has a window function with an explicit frame clause
(`ROWS`/`RANGE`/`GROUPS BETWEEN ...`: running totals, moving averages), or two or more
window functions. A single ranking (`row_number() over (partition by ... order by ...)`)
is the common de-duplication idiom and is not complex.

Python models have no SQL: their score is None, and the caller says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

MAX_SCORE = 10


@dataclass(frozen=True)
class Complexity:
    joins: int
    windows: int  # window functions (named window definitions excluded)
    framed_windows: int  # of those, with an explicit frame clause
    ctes: int
    subquery_depth: int
    set_operations: int

    @property
    def score(self) -> int:
        raw = 1 + self.joins + 2 * self.windows + self.ctes + self.subquery_depth + self.set_operations
        return min(raw, MAX_SCORE)

    @property
    def complex_windows(self) -> bool:
        return self.framed_windows > 0 or self.windows >= 2

    def explain(self) -> str:
        """ "1 + 1 join + 2 CTEs = 4": the score as the sum the docs define."""
        parts = [
            _count(self.joins, "join"),
            _count(self.windows, "window function", 2),
            _count(self.ctes, "CTE"),
            _count(self.subquery_depth, "subquery level"),
            _count(self.set_operations, "set operation"),
        ]
        raw = 1 + self.joins + 2 * self.windows + self.ctes + self.subquery_depth + self.set_operations
        capped = f" (capped at {MAX_SCORE})" if raw > MAX_SCORE else ""
        return " + ".join(["1", *(p for p in parts if p)]) + f" = {self.score}{capped}"

    def explain_windows(self) -> str:
        if not self.windows:
            return "no window function"
        framed = f", {self.framed_windows} with a frame clause" if self.framed_windows else ", no frame clause"
        return f"{_plural(self.windows, 'window function')}{framed}"


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _count(n: int, what: str, weight: int = 1) -> str:
    if not n:
        return ""
    return f"{weight} x {_plural(n, what)}" if weight != 1 else _plural(n, what)


class UnparsableSql(ValueError):
    """sqlglot could not read the query."""


def measure(sql: str, dialect: str | None = None) -> Complexity:
    """The counts of one query (several statements: summed). Raises UnparsableSql."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=dialect or None) if t is not None]
    except SqlglotError as exc:
        raise UnparsableSql(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    if not trees:
        raise UnparsableSql("no SQL statement")
    joins = windows = framed = ctes = sets = depth = 0
    for tree in trees:
        joins += sum(1 for _ in tree.find_all(exp.Join))
        ctes += sum(1 for _ in tree.find_all(exp.CTE))
        sets += sum(1 for _ in tree.find_all(exp.Union, exp.Intersect, exp.Except))
        for window in tree.find_all(exp.Window):
            if window.arg_key == "windows":  # WINDOW w AS (...): a definition, not a function
                continue
            windows += 1
            framed += 1 if window.args.get("spec") is not None else 0
        depth = max(depth, _subquery_depth(tree))
    return Complexity(joins, windows, framed, ctes, depth, sets)


def _is_subquery(node: exp.Expr) -> bool:
    return isinstance(node, exp.Exists) or (isinstance(node, exp.Subquery) and isinstance(node.this, exp.Query))


def _subquery_depth(tree: exp.Expr) -> int:
    """The most subqueries nested inside each other anywhere in the tree."""
    deepest = 0
    for node in tree.find_all(exp.Subquery, exp.Exists):
        if not _is_subquery(node):
            continue
        level, parent = 1, node.parent
        while parent is not None:
            level += 1 if _is_subquery(parent) else 0
            parent = parent.parent
        deepest = max(deepest, level)
    return deepest
