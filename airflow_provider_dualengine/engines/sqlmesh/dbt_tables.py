"""Let a SQLMesh model read a dbt model's table in the environment it runs in.

The reverse of the dbt plugin: dbt writes `analytics_dev.customer_value` in development
and `analytics.customer_value` in production, and a SQLMesh model reading it must follow.
The project's macro calls :func:`dbt_table`; the factory's SQLMesh tasks set
``DUALENGINE_DBT_SCHEMA`` to the dbt schema of their environment. The model's SQL (and so
its SQLMesh fingerprint) is the same in every environment: only the rendered table
changes, which keeps dev -> prod promotion a pure view swap.

At compile time the variable is unset and the production schema is used, which is what
the unified graph matches against dbt's relations to find the cross-engine edge.
"""

from __future__ import annotations

import os
import re

from sqlglot import exp

from airflow_provider_dualengine.config.names import IDENTIFIER
from airflow_provider_dualengine.engines.sqlmesh.names import DBT_SCHEMA_ENV


def dbt_table(model: str | exp.Expression, prod_schema: str) -> exp.Table:
    """The table dbt writes for `model`: `<$DUALENGINE_DBT_SCHEMA or prod_schema>.<model>`."""
    name = model.name if isinstance(model, exp.Expression) else str(model)
    schema = os.environ.get(DBT_SCHEMA_ENV) or prod_schema
    for label, value in (("dbt model", name), ("dbt schema", schema)):
        if not re.match(IDENTIFIER, value):
            raise ValueError(f"{label} {value!r} is not a plain identifier")
    return exp.table_(exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True))
