"""List a dbt project's models from its manifest.json (dbt never runs at parse time)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog

log = logging.getLogger(__name__)

# External nodes the dbt_dualengine plugin adds for SQLMesh models (cross-engine ref()).
SQLMESH_NODE_PREFIX = "model.sqlmesh."


class ManifestMissing(FileNotFoundError):
    pass


def read_manifest(manifest_path: Path) -> dict:
    if not manifest_path.is_file():
        raise ManifestMissing(str(manifest_path))
    return json.loads(manifest_path.read_text(encoding="utf-8"))


def undocumented_models(manifest: dict, project_name: str) -> dict[str, str]:
    """dbt models of the project without a description: name -> original file path.
    The deploy DAG refuses them (`require_dbt_docs=True`); `validate -e <prod env>` too."""
    return {
        node["name"]: node.get("original_file_path", "")
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
        and node.get("package_name") == project_name
        and not (node.get("description") or "").strip()
    }


def dbt_catalog_from_manifest(
    manifest_path: Path, sqlmesh_columns: dict[str, dict[str, str]] | None = None
) -> ModelCatalog:
    """The project's models; with a compiled manifest also the columns each one reads from
    each input (`sqlmesh_columns`: SQLMesh model -> column -> type, so that a `select *`
    over a SQLMesh table expands)."""
    manifest = read_manifest(manifest_path)
    project_name = manifest.get("metadata", {}).get("project_name")
    catalog = ModelCatalog(engine="dbt", source=manifest_path)
    sources = {
        sid: f"{src.get('schema')}.{src.get('identifier') or src.get('name')}"
        for sid, src in manifest.get("sources", {}).items()
    }
    tests: dict[str, list[str]] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "test":
            for parent in node.get("depends_on", {}).get("nodes", []):
                tests.setdefault(parent, []).append(node["name"])
    for unique_id, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") != "model" or node.get("package_name") != project_name:
            continue
        catalog.models[node["name"]] = CatalogModel(
            engine="dbt",
            name=node["name"],
            path=Path(node.get("original_file_path", "")),
            unique_id=unique_id,
            kind=node.get("config", {}).get("materialized"),
            schema=node.get("schema"),
            depends_on=tuple(
                sorted(
                    d.split(".")[-1]
                    for d in node.get("depends_on", {}).get("nodes", [])
                    if d.startswith(f"model.{project_name}.")
                )
            ),
            columns={c: (v.get("data_type") or "") for c, v in node.get("columns", {}).items()},
            reads_tables=tuple(sorted(sources[d] for d in node.get("depends_on", {}).get("nodes", []) if d in sources)),
            engine_refs=tuple(
                sorted(
                    d.removeprefix(SQLMESH_NODE_PREFIX)
                    for d in node.get("depends_on", {}).get("nodes", [])
                    if d.startswith(SQLMESH_NODE_PREFIX)
                )
            ),
            checks=tuple(sorted(tests.get(unique_id, []))),
            relation=f"{node.get('schema')}.{node.get('alias') or node['name']}",
            columns_read=_columns_read(manifest, node, sqlmesh_columns or {}, project_name),
            owner=_owner(manifest, node),
        )
    _infer_types(catalog, manifest, sqlmesh_columns or {})
    return catalog


def _owner(manifest: dict, node: dict) -> str | None:
    """`meta.owner` of the model (config or yml), else the owner of its dbt group."""
    meta = {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}
    if meta.get("owner"):
        return str(meta["owner"])
    group = (manifest.get("groups") or {}).get(f"group.{node.get('package_name')}.{node.get('group')}") or {}
    owner = group.get("owner") or {}
    return owner.get("email") or owner.get("name") or None


def _infer_types(catalog: ModelCatalog, manifest: dict, sqlmesh_columns: dict[str, dict[str, str]]) -> None:
    """Each model's output types from its compiled SQL (engines/column_types.py), upstream
    dbt models first so that their types flow on; a model sqlglot cannot type keeps none."""
    from dataclasses import replace
    from graphlib import TopologicalSorter

    from airflow_provider_dualengine.engines.column_reads import schema_of
    from airflow_provider_dualengine.engines.column_types import output_types

    dialect = manifest.get("metadata", {}).get("adapter_type") or "duckdb"
    models = catalog.models
    order = TopologicalSorter({n: [d for d in m.depends_on if d in models] for n, m in models.items()}).static_order()
    for name in order:
        model = models[name]
        node = manifest["nodes"].get(model.unique_id or "", {})
        if not node.get("compiled_code"):
            continue
        inputs: dict[str, dict[str, str]] = {}
        for dep in node.get("depends_on", {}).get("nodes", []):
            upstream = manifest.get("nodes", {}).get(dep) or manifest.get("sources", {}).get(dep) or {}
            table = (upstream.get("alias") or upstream.get("identifier") or upstream.get("name") or "").split(".")[-1]
            relation = f"{upstream.get('schema')}.{table}".lower()
            if dep.startswith(SQLMESH_NODE_PREFIX):
                inputs[relation] = sqlmesh_columns.get(dep.removeprefix(SQLMESH_NODE_PREFIX), {})
            elif upstream.get("name") in models and dep == models[upstream["name"]].unique_id:
                known = models[upstream["name"]]
                inputs[relation] = {**known.inferred_types, **{c: t for c, t in known.columns.items() if t}}
            else:
                inputs[relation] = sqlmesh_columns.get(relation, {})
        try:
            inferred = output_types(node["compiled_code"], dialect, schema_of(inputs))
        except Exception as exc:  # noqa: BLE001 - an extra of compile, never fatal
            log.warning("no inferred column types for dbt model %s: %s", name, exc)
            continue
        models[name] = replace(model, inferred_types=inferred)


def _columns_read(
    manifest: dict, node: dict, sqlmesh_columns: dict[str, dict[str, str]], project_name: str | None
) -> dict[str, tuple[str, ...]] | None:
    """Input -> columns the model's compiled SQL reads from it (keys as in CatalogModel)."""
    from airflow_provider_dualengine.engines.column_reads import columns_read, schema_of

    sql = node.get("compiled_code")
    if not sql:
        return None
    inputs: dict[str, str] = {}  # schema.table as compiled -> input key
    # schema.table -> column types, only where complete (SQLMesh knows its models' columns;
    # what a dbt yml declares may be a subset, and would expand a star wrongly)
    known: dict[str, dict[str, str]] = {}
    for dep in node.get("depends_on", {}).get("nodes", []):
        upstream = manifest.get("nodes", {}).get(dep) or manifest.get("sources", {}).get(dep)
        if not upstream:
            continue
        table = (upstream.get("alias") or upstream.get("identifier") or upstream["name"]).split(".")[-1]
        relation = f"{upstream.get('schema')}.{table}".lower()
        if dep.startswith(SQLMESH_NODE_PREFIX):
            name = dep.removeprefix(SQLMESH_NODE_PREFIX)
            inputs[relation], columns = f"sqlmesh:{name}", sqlmesh_columns.get(name, {})
        elif dep.startswith(f"model.{project_name}."):
            inputs[relation], columns = f"dbt:{upstream['name']}", {}
        else:  # a source (or seed): SQLMesh tables are read this way under their prod name
            inputs[relation], columns = f"table:{relation}", sqlmesh_columns.get(relation, {})
        known[relation] = columns
    dialect = manifest.get("metadata", {}).get("adapter_type") or "duckdb"
    try:
        reads = columns_read(sql, dialect, schema_of(known))
    except Exception as exc:  # noqa: BLE001 - an extra of compile, never fatal
        log.warning("no column use for dbt model %s: %s", node.get("name"), exc)
        return None
    return {inputs.get(relation, f"table:{relation}"): tuple(sorted(cols)) for relation, cols in sorted(reads.items())}
