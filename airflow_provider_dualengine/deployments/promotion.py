"""Prod as one layer over both engines, switched in one warehouse transaction.

Prod readers see SQLMesh's prod views (each `SELECT * FROM` a physical snapshot table)
and dbt's live views (each `SELECT * FROM` a table in the live slot). `ProdLayer` is what
they point at; `swap` makes prod equal to a layer in ONE transaction, so a failure or a
killed process at any statement leaves prod fully old, and a commit makes it fully new.
Rolling back is the same swap to the layer saved before the deployment.

A layer holds names as (schema, table) parts; `swap` quotes each part where it builds a
statement. A layer read back from a deployment record must be checked first
(deployments/saved.py): `swap` trusts the names it is given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from airflow_provider_dualengine.deployments import dbt_slots
from airflow_provider_dualengine.deployments.relations import Relation
from airflow_provider_dualengine.engines.sqlmesh.promotion import ViewBinding
from airflow_provider_dualengine.hooks.warehouse import Warehouse


class LayerFormatError(ValueError):
    """A stored layer does not have the shape `ProdLayer.as_dict` writes."""

    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(f"{field} = {value!r} {reason}")
        self.field, self.value, self.reason = field, value, reason


@dataclass(frozen=True)
class ProdLayer:
    """What prod points at: SQLMesh views over physical tables, and the dbt live slot."""

    sqlmesh_views: tuple[ViewBinding, ...] = ()
    dbt_live_schema: str = ""
    dbt_slot: str | None = None
    dbt_relations: tuple[str, ...] = ()

    def relations(self) -> list[Relation]:
        """Every prod relation readers query, both engines."""
        views: list[Relation] = sorted(b.view for b in self.sqlmesh_views)
        return views + [(self.dbt_live_schema, r) for r in self.dbt_relations]

    def physical_tables(self) -> list[Relation]:
        return sorted(b.physical for b in self.sqlmesh_views)

    def as_dict(self) -> dict[str, Any]:
        views = [
            {"model": b.model, "snapshot": b.snapshot, "view": list(b.view), "physical": list(b.physical)}
            for b in self.sqlmesh_views
        ]
        return {
            "sqlmesh_views": views,
            "dbt_live_schema": self.dbt_live_schema,
            "dbt_slot": self.dbt_slot,
            "dbt_relations": list(self.dbt_relations),
        }

    @classmethod
    def from_dict(cls, data: Any, field: str = "layer") -> ProdLayer:
        """The layer `as_dict` wrote; raises LayerFormatError on any other shape (names
        are parsed, not checked: that is deployments/saved.py's job)."""
        if not isinstance(data, dict):
            raise LayerFormatError(field, data, "is not a prod layer")
        views = data.get("sqlmesh_views", [])
        if not isinstance(views, list):
            raise LayerFormatError(
                f"{field}.sqlmesh_views", views, "is not a list of {model, snapshot, view, physical}"
            )
        bindings = tuple(_binding(v, f"{field}.sqlmesh_views[{i}]") for i, v in enumerate(views))
        live, slot, relations = data.get("dbt_live_schema", ""), data.get("dbt_slot"), data.get("dbt_relations", [])
        if not isinstance(live, str):
            raise LayerFormatError(f"{field}.dbt_live_schema", live, "is not a schema name")
        if slot is not None and not isinstance(slot, str):
            raise LayerFormatError(f"{field}.dbt_slot", slot, "is not a schema name")
        if not isinstance(relations, list) or not all(isinstance(r, str) for r in relations):
            raise LayerFormatError(f"{field}.dbt_relations", relations, "is not a list of relation names")
        return cls(bindings, live, slot, tuple(relations))


def swap(warehouse: Warehouse, target: ProdLayer, current: ProdLayer | None = None) -> float:
    """Point prod at `target` in one transaction; returns the window (BEGIN..COMMIT seconds).

    Views of `current` that `target` lacks are dropped in the same transaction (a model
    removed by the deployment, or a rollback to before the first deployment).
    """
    if target.dbt_slot:
        dbt_slots.check_switch(warehouse, target.dbt_live_schema, target.dbt_slot, list(target.dbt_relations))
    stale_views = (
        sorted({b.view for b in current.sqlmesh_views} - {b.view for b in target.sqlmesh_views}) if current else []
    )
    started = time.perf_counter()
    with warehouse.transaction():
        for schema in sorted({b.view[0] for b in target.sqlmesh_views}):
            warehouse.execute(f"CREATE SCHEMA IF NOT EXISTS {warehouse.quote(schema)}")
        for binding in sorted(target.sqlmesh_views, key=lambda b: b.view):
            _replace_view(warehouse, binding.view, binding.physical)
        for view in stale_views:
            warehouse.execute(f"DROP VIEW IF EXISTS {warehouse.quote(*view)}")
        if target.dbt_slot:
            dbt_slots.apply_switch(warehouse, target.dbt_live_schema, target.dbt_slot, list(target.dbt_relations))
        elif current and current.dbt_slot:
            dbt_slots.apply_clear(warehouse, current.dbt_live_schema, list(current.dbt_relations))
    return time.perf_counter() - started


def _replace_view(warehouse: Warehouse, view: Relation, physical: Relation) -> None:
    # Drop + create: PostgreSQL cannot CREATE OR REPLACE a view whose columns changed.
    # No CASCADE: if anything depends on the view the transaction fails and prod stays as it was.
    warehouse.execute(f"DROP VIEW IF EXISTS {warehouse.quote(*view)}")
    warehouse.execute(f"CREATE VIEW {warehouse.quote(*view)} AS SELECT * FROM {warehouse.quote(*physical)}")


def _binding(data: Any, field: str) -> ViewBinding:
    if not isinstance(data, dict):
        raise LayerFormatError(field, data, "is not a {model, snapshot, view, physical} entry")
    model, snapshot = data.get("model"), data.get("snapshot")
    if not isinstance(model, str) or not isinstance(snapshot, str):
        raise LayerFormatError(field, data, "lacks the SQLMesh model and snapshot identifier")
    return ViewBinding(
        model, snapshot, _parts(data.get("view"), f"{field}.view"), _parts(data.get("physical"), f"{field}.physical")
    )


def _parts(value: Any, field: str) -> tuple[str, str]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(p, str) and p for p in value)):
        raise LayerFormatError(field, value, "is not a [schema, table] pair")
    return (value[0], value[1])
