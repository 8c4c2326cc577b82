"""The column types a query produces, from its SQL and its inputs' types (sqlglot).

dbt knows a model's column types only where its yml declares `data_type`; lineage
backends and Airflow's Asset pages then show untyped columns for most dbt models, while
the SQLMesh models beside them are typed. The compiled SQL plus the types of what it reads
(SQLMesh models, sources on SQLMesh tables, upstream dbt models) determine the output
types for every projection sqlglot can type: casts, columns passed through, aggregates.
They are an inference, not the warehouse's word, so they fill only what the project does
not declare and contracts never check against them.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.engines.column_reads import Schema, lower_schema


def output_types(query: Any, dialect: str, schema: Schema) -> dict[str, str]:
    """Output column (lower case) -> type in `dialect`, for the projections sqlglot can
    type; a query sqlglot cannot parse raises its error."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    known = lower_schema(schema)
    tree = sqlglot.parse_one(query, dialect=dialect) if isinstance(query, str) else query.copy()
    tree = qualify(tree, dialect=dialect, schema=known, validate_qualify_columns=False, infer_schema=True)  # type: ignore[arg-type]
    tree = annotate_types(tree, schema=known, dialect=dialect)  # type: ignore[arg-type]
    found = {}
    for projection in getattr(tree, "selects", []):
        typ = projection.type
        if typ is None or typ.is_type(exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
            continue
        found[projection.alias_or_name.lower()] = typ.sql(dialect=dialect)
    return found
