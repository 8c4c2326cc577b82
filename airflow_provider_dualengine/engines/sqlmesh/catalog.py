"""A SQLMesh project's models as recorded in the compiled artifact (no SQLMesh import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog


def sqlmesh_catalog_from_artifact(artifact: dict[str, Any], source: Path) -> ModelCatalog:
    described = artifact["sqlmesh"]
    catalog = ModelCatalog(engine="sqlmesh", source=source)
    for name, model in described["models"].items():
        catalog.models[name] = CatalogModel(
            engine="sqlmesh",
            name=name,
            path=Path(model["path"]) if model.get("path") else None,
            kind=model["kind"],
            schema=name.split(".")[0],
            depends_on=tuple(model["depends_on"]),
            cron=model.get("cron"),
            columns=dict(model.get("columns", {})),
            reads_tables=tuple(model.get("external_depends_on", ())),
            checks=tuple(model.get("audits", ())),
        )
    return catalog
