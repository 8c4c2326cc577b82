"""Which columns of which tables a query really reads, from its SQL alone (sqlglot).

Column lineage answers "where does each output column come from"; a contract needs more:
a column used only in a filter, a join or a GROUP BY is read too, and its removal breaks
the consumer just the same. So the query is qualified (stars expanded where the schema is
known), projections nobody uses are pruned from CTEs and subqueries (a `select *` CTE that
the outer query uses two columns of reads two columns), and every remaining column whose
source is a table is counted.

Both engines use it: SQLMesh on the query it renders, dbt on its compiled SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

STAR = "*"  # read every column of a table whose columns the schema does not know

Schema = Mapping[str, Mapping[str, Mapping[str, str]]]  # schema -> table -> column -> type


def table_key(table: Any) -> str:
    """`schema.table` in lower case (the catalog is left out: engines name it differently)."""
    return ".".join(part for part in (table.db, table.name) if part).lower()


def columns_read(query: Any, dialect: str, schema: Schema | None = None) -> dict[str, set[str]]:
    """`schema.table` -> the columns the query reads from it (lower case); `*` when it reads
    every column of a table of unknown columns. `query` is SQL text or a sqlglot expression
    (not modified). A query sqlglot cannot parse or qualify raises its error."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.pushdown_projections import pushdown_projections
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import traverse_scope

    tree = sqlglot.parse_one(query, dialect=dialect) if isinstance(query, str) else query.copy()
    tree = qualify(
        tree,
        dialect=dialect,
        schema=lower_schema(schema) if schema else None,  # type: ignore[arg-type]
        validate_qualify_columns=False,
        infer_schema=True,
        quote_identifiers=False,
        identify=False,
    )
    tree = pushdown_projections(tree, dialect=dialect)
    reads: dict[str, set[str]] = {}
    for scope in traverse_scope(tree):
        for _alias, source in scope.selected_sources.values():
            if isinstance(source, exp.Table):
                reads.setdefault(table_key(source), set())
        for column in scope.columns:
            if isinstance(scope.sources.get(column.table), exp.Table):
                reads.setdefault(table_key(scope.sources[column.table]), set()).add(column.name.lower())
        if isinstance(scope.expression, exp.Select):
            for projection in scope.expression.expressions:
                star_table = _star_table(projection, scope)
                if star_table is not None:
                    reads.setdefault(table_key(star_table), set()).add(STAR)
    return reads


def _star_table(projection: Any, scope: Any) -> Any:
    """The table a leftover star (`*` or `t.*`, unknown columns) selects from, if one."""
    from sqlglot import exp

    if isinstance(projection, exp.Star):
        tables = [s for _, s in scope.selected_sources.values() if isinstance(s, exp.Table)]
        return tables[0] if len(tables) == 1 else None
    if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
        source = scope.sources.get(projection.table)
        return source if isinstance(source, exp.Table) else None
    return None


def lower_schema(schema: Schema) -> dict[str, dict[str, dict[str, str]]]:
    return {
        db.lower(): {t.lower(): {c.lower(): (ty or "unknown") for c, ty in cols.items()} for t, cols in tables.items()}
        for db, tables in schema.items()
    }


def schema_of(columns_by_table: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, dict[str, str]]]:
    """{`schema.table`: {column: type}} as the nested mapping sqlglot reads; tables of no
    known column are left out (their stars stay stars)."""
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for relation, columns in columns_by_table.items():
        db, _, table = relation.rpartition(".")
        if columns and db:
            nested.setdefault(db, {})[table] = dict(columns)
    return nested
