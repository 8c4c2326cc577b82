"""Load the SQLMesh project once (at compile time, never at parse time) and describe its models.

The description (names, kinds, crons, dependencies, column types) is what the DAG factory
renders per-model tasks from; the column lineage of SQL models feeds `dualengine lineage`.
The Context is built on an in-memory DuckDB: loading models needs no warehouse, and
compile must not need credentials.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.engines.sqlmesh.names import plain_name

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.lineage import Node
    from sqlmesh.core.model import Model

log = logging.getLogger(__name__)


def describe_sqlmesh_project(project_path: Path, gateway: str | None = None) -> dict[str, Any]:
    """Every model of the project (see the module doc) and the config's gateway names.

    Raises DualEngineConfigError naming the model or config file (and line) when SQLMesh
    cannot load the project, and UnknownGateway for a gateway the config does not have."""
    from sqlmesh.core.config.connection import DuckDBConnectionConfig
    from sqlmesh.core.model import PythonModel, SeedModel

    project_path = project_path.resolve()
    ctx, gateways = _load_context(project_path, gateway, DuckDBConnectionConfig(database=":memory:"))
    try:
        models = {}
        project_names = {plain_name(m.fqn) for m in ctx.models.values()}
        fingerprints = {plain_name(s.name): s.fingerprint for s in ctx.snapshots.values()}
        for model in ctx.models.values():
            name = plain_name(model.fqn)
            columns = model.columns_to_types or {}
            models[name] = {
                "kind": model.kind.name.value if hasattr(model.kind.name, "value") else str(model.kind.name),
                "cron": model.cron,
                "depends_on": sorted(d for d in map(plain_name, model.depends_on) if d in project_names),
                "external_depends_on": sorted(d for d in map(plain_name, model.depends_on) if d not in project_names),
                "columns": {col: dtype.sql(dialect=model.dialect) for col, dtype in columns.items()},
                "python": isinstance(model, PythonModel),
                "path": str(Path(model._path).resolve().relative_to(project_path)) if model._path else None,
                "dialect": model.dialect,
                "audits": sorted(name for name, _ in model.audits),
                "owner": model.owner or None,
                "description": model.description or None,
                "tags": sorted(model.tags),
                "query": rendered_query(model),
                "data_hash": fingerprints[name].data_hash if name in fingerprints else None,
                "metadata_hash": fingerprints[name].metadata_hash if name in fingerprints else None,
                "column_lineage": column_lineage(model),
                "columns_read": model_columns_read(model, project_names),
                # the CSV a seed model loads, relative to the SQLMesh project (lineage input)
                "reads_files": [os.path.relpath(model.seed_path.resolve(), project_path)]
                if isinstance(model, SeedModel)
                else [],
            }
        return {
            "project_path": str(project_path),
            "gateway": ctx.gateway,
            "gateways": gateways,
            "models": dict(sorted(models.items())),
        }
    finally:
        ctx.close()


def _load_context(project_path: Path, gateway: str | None, offline: Any) -> tuple[Any, list[str] | None]:
    """(loaded Context, gateway names); SQLMesh's load errors become ConfigIssues."""
    from sqlmesh import Context

    from airflow_provider_dualengine.config.errors import DualEngineConfigError
    from airflow_provider_dualengine.engines.sqlmesh.errors import sqlmesh_load_issue
    from airflow_provider_dualengine.engines.sqlmesh.project_config import (
        UnknownGateway,
        gateway_names,
        load_project_config,
    )

    try:
        config, gateway_name = load_project_config(
            project_path, gateway, connection=offline, state_connection=offline, test_connection=offline
        )
        return Context(paths=[project_path], config=config, gateway=gateway_name), gateway_names(config)
    except UnknownGateway:
        raise
    except Exception as exc:
        issue = sqlmesh_load_issue(exc, project_path)
        if issue is None:
            raise
        raise DualEngineConfigError([issue]) from None


def column_lineage(model: Model) -> dict[str, list[str]]:
    """Output column -> the upstream `schema.table.column`s it is computed from (one hop).

    Best effort, and never fatal: lineage is an extra of compile, so a query sqlglot cannot
    trace gets no lineage (with a warning) instead of failing the compile. Python and seed
    models have no query to trace and get none.
    """
    from sqlmesh.core.model import SqlModel

    if not isinstance(model, SqlModel):
        return {}
    try:
        query = model.render_query()
        if query is None:  # rendered only at run time (e.g. adapter calls)
            return {}
        # A star left over a table of unknown columns is no output column.
        return {
            column: _upstream_columns(node) for column, node in _lineage_nodes(model, query).items() if column != "*"
        }
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("no column lineage for %s: %s", plain_name(model.fqn), exc)
        return {}


def rendered_query(model: Model) -> str | None:
    """The model's query as SQLMesh renders it (macros expanded, the model's own dialect):
    what engine selection scores for complexity. None for Python and seed models and, with
    a warning, for a query SQLMesh can render only at run time."""
    from sqlmesh.core.model import SqlModel

    if not isinstance(model, SqlModel):
        return None
    try:
        query = model.render_query()
    except Exception as exc:  # noqa: BLE001 - an extra of compile, never fatal
        log.warning("no rendered query for %s: %s", plain_name(model.fqn), exc)
        return None
    return query.sql(dialect=model.dialect) if query is not None else None


def model_columns_read(model: Model, project_names: set[str]) -> dict[str, list[str]] | None:
    """Input (`sqlmesh:<model>` or `table:<schema.table>`) -> the columns the model's query
    reads from it, filters and joins included (engines/column_reads.py). None for Python
    and seed models (no query) and, with a warning, for a query sqlglot cannot follow."""
    from sqlmesh.core.model import SqlModel

    from airflow_provider_dualengine.engines.column_reads import columns_read

    if not isinstance(model, SqlModel):
        return None
    try:
        query = model.render_query()
        if query is None:
            return None
        reads = columns_read(query, model.dialect)
    except Exception as exc:  # noqa: BLE001 - an extra of compile, never fatal
        log.warning("no column use for %s: %s", plain_name(model.fqn), exc)
        return None
    return {
        (f"sqlmesh:{table}" if table in project_names else f"table:{table}"): sorted(columns)
        for table, columns in sorted(reads.items())
    }


def _lineage_nodes(model: Model, query: exp.Query) -> dict[str, Node]:
    """sqlglot lineage of every output column in one pass over one scope.

    SQLMesh already optimized (qualified, stars expanded) the query it renders when it
    knows the schema of every table read, and caches it; tracing that query directly costs
    no second qualify pass and no copy per model (`sqlmesh.core.lineage.lineage` pays both,
    about 4x slower on a 500-model project). A query SQLMesh left as written (it reads a
    table it has no schema for, e.g. a dbt table) is qualified here on a copy, inferring
    that table's columns from the query's references.
    """
    from sqlglot.lineage import lineage
    from sqlglot.optimizer import build_scope
    from sqlglot.optimizer.qualify import qualify
    from sqlmesh.core.dialect import normalize_mapping_schema

    if not _is_qualified(query):
        schema = normalize_mapping_schema(model.mapping_schema, dialect=model.dialect)
        query = qualify(
            query.copy(), dialect=model.dialect, schema=schema, validate_qualify_columns=False, infer_schema=True
        )
    # copy=False: lineage only reads the (cached) query; column=None traces all columns.
    return lineage(None, sql=query, scope=build_scope(query), dialect=model.dialect, trim_selects=False, copy=False)


def _is_qualified(query: exp.Query) -> bool:
    """Every column names its table and no SELECT has a star: lineage can resolve sources."""
    from sqlglot import exp

    if any(projection.is_star for select in query.find_all(exp.Select) for projection in select.expressions):
        return False
    return all(column.table for column in query.find_all(exp.Column))


def _upstream_columns(node: Node) -> list[str]:
    """The table columns at the leaves of a lineage node, as plain `schema.table.column`."""
    from sqlglot import exp

    found = set()
    for leaf in node.walk():
        if leaf.downstream or not isinstance(leaf.expression, exp.Table):
            continue
        table, column = leaf.expression, exp.to_column(leaf.name).name
        if column != "*":  # a star over a table of unknown columns says nothing per column
            found.add(f"{table.db}.{table.name}.{column}" if table.db else f"{table.name}.{column}")
    return sorted(found)
