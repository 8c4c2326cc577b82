"""OpenLineage datasets for SQLMesh models, named the way Cosmos names the dbt side.

Cosmos hands dbt artifacts to openlineage-dbt (`openlineage.common.provider.dbt`), which
names a relation `<database>.<schema>.<table>` in the namespace of the dbt profile
(`DbtArtifactProcessor.extract_namespace`): `postgres://<host>:<port>` and
`duckdb://<path>`. Cosmos fills that profile from the same Airflow connection we use, so
naming a SQLMesh table with the same rule lets a lineage backend merge both engines'
graphs on shared tables. Nothing here needs the OpenLineage provider until a lineage
object is actually built: the imports are local so the module stays importable without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_dualengine.engines.connections import database_name, dataset_namespace


def split_table(table: str) -> tuple[str | None, str, str]:
    """'schema.table', 'db.schema.table' or their quoted forms -> (db or None, schema, table)."""
    parts = [p.strip().strip('"').strip("`") for p in table.split(".")]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise ValueError(f"table {table!r} is not 'schema.table' or 'database.schema.table'")


def dataset_name(conn: Any, table: str, schema_suffix: str = "") -> str:
    """`<database>.<schema><suffix>.<table>`; the connection's database unless `table` names one."""
    database, schema, name = split_table(table)
    return f"{database or database_name(conn)}.{schema}{schema_suffix}.{name}"


def table_dataset(conn: Any, table: str, schema_suffix: str = "", columns: Mapping[str, str] | None = None) -> Any:
    """An OpenLineage Dataset for `table`, with a schema facet when its columns are known."""
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        DatasetFacet,
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    facets: dict[str, DatasetFacet] = {}
    if columns:
        facets["schema"] = SchemaDatasetFacet(
            fields=[SchemaDatasetFacetFields(name=col, type=typ or None) for col, typ in columns.items()]
        )
    return Dataset(namespace=dataset_namespace(conn), name=dataset_name(conn, table, schema_suffix), facets=facets)


def model_lineage(
    conn: Any,
    model: str,
    *,
    view_schema_suffix: str = "",
    sqlmesh_inputs: Iterable[str] = (),
    external_inputs: Iterable[str] = (),
    columns: Mapping[str, str] | None = None,
) -> Any:
    """OperatorLineage of one SQLMesh model task.

    Output: the model's environment view (`<schema><suffix>.<table>`), which is what dbt and
    other readers query. Inputs: upstream SQLMesh models read through the same environment's
    views (suffix applied) and external or dbt tables as named (no suffix).
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs = [table_dataset(conn, t, view_schema_suffix) for t in sqlmesh_inputs]
    inputs += [table_dataset(conn, t) for t in external_inputs]
    unique = list({(d.namespace, d.name): d for d in inputs}.values())
    output = table_dataset(conn, model, view_schema_suffix, columns)
    return OperatorLineage(inputs=unique, outputs=[output])
