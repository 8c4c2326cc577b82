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

from airflow_provider_dualengine.engines.connections import dataset_namespace
from airflow_provider_dualengine.engines.openlineage import (
    dataset_name,
    file_dataset,
    split_table,
    table_dataset,
    unique_datasets,
)

__all__ = ["dataset_name", "dataset_namespace", "model_lineage", "split_table", "table_dataset"]


def model_lineage(
    conn: Any,
    model: str,
    *,
    view_schema_suffix: str = "",
    sqlmesh_inputs: Iterable[str] = (),
    external_inputs: Iterable[str] = (),
    files: Iterable[str] = (),
    columns: Mapping[str, str] | None = None,
) -> Any:
    """OperatorLineage of one SQLMesh model task.

    Output: the model's environment view (`<schema><suffix>.<table>`), which is what dbt and
    other readers query. Inputs: upstream SQLMesh models read through the same environment's
    views (suffix applied), external or dbt tables as named (no suffix), and the files it
    loads (a seed's CSV).
    """
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs = [table_dataset(conn, t, view_schema_suffix) for t in sqlmesh_inputs]
    inputs += [table_dataset(conn, t) for t in external_inputs]
    inputs += [file_dataset(f) for f in files]
    output = table_dataset(conn, model, view_schema_suffix, columns)
    return OperatorLineage(inputs=unique_datasets(inputs), outputs=[output])
