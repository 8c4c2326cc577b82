"""OpenLineage datasets for warehouse tables, named the way openlineage-dbt names them.

openlineage-dbt (`openlineage.common.provider.dbt`, used by Cosmos) names a relation
`<database>.<schema>.<table>` in the namespace of the dbt profile
(`DbtArtifactProcessor.extract_namespace`): `postgres://<host>:<port>` and `duckdb://<path>`.
Both engines' tasks name their tables with this one rule, taken from the same Airflow
connection, so a lineage backend joins SQLMesh and dbt into one graph on shared tables.
The OpenLineage imports are local: the module stays importable without the provider.
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


def file_dataset(path: str) -> Any:
    """A local file as OpenLineage's naming spec and Airflow's file Assets name it:
    namespace `file`, name the absolute path (a seed CSV a SQLMesh model loads)."""
    import os

    from airflow.providers.common.compat.openlineage.facet import Dataset

    return Dataset(namespace="file", name=os.path.abspath(path))


def unique_datasets(datasets: Iterable[Any]) -> list[Any]:
    """First of each (namespace, name), in order."""
    return list({(d.namespace, d.name): d for d in datasets}.values())


def table_lineage(
    conn: Any,
    output: str,
    inputs: Iterable[str],
    columns: Mapping[str, str] | None = None,
    files: Iterable[str] = (),
) -> Any:
    """OperatorLineage of a task that writes `output` from `inputs` (environment-resolved
    `schema.table` names) and `files`, with the output's columns as a schema facet."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    datasets = [*(table_dataset(conn, t) for t in inputs), *(file_dataset(f) for f in files)]
    return OperatorLineage(inputs=unique_datasets(datasets), outputs=[table_dataset(conn, output, columns=columns)])
