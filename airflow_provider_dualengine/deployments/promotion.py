"""Prod as one layer over both engines, switched in one warehouse transaction.

Prod readers see SQLMesh's prod views (each `SELECT * FROM` a physical snapshot table)
and dbt's live views (each `SELECT * FROM` a table in the live slot). `ProdLayer` is what
they point at; `swap` makes prod equal to a layer in ONE transaction, so a failure or a
killed process at any statement leaves prod fully old, and a commit makes it fully new.
Rolling back is the same swap to the layer saved before the deployment.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_dualengine.engines.dbt import blue_green
from airflow_provider_dualengine.engines.warehouse import quote_ident, transaction


@dataclass(frozen=True)
class ProdLayer:
    """What prod points at: SQLMesh view -> physical table (quoted names), and the dbt live slot."""

    sqlmesh_views: dict[str, str] = field(default_factory=dict)
    dbt_live_schema: str = ""
    dbt_slot: str | None = None
    dbt_relations: tuple[str, ...] = ()

    def relations(self) -> list[str]:
        """Every prod relation readers query (quoted), both engines."""
        dbt = [f"{quote_ident(self.dbt_live_schema)}.{quote_ident(r)}" for r in self.dbt_relations]
        return sorted(self.sqlmesh_views) + dbt

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "dbt_relations": list(self.dbt_relations)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProdLayer:
        return cls(dict(data.get("sqlmesh_views", {})), data.get("dbt_live_schema", ""), data.get("dbt_slot"), tuple(data.get("dbt_relations", ())))


def swap(cursor: Any, dialect: str, target: ProdLayer, current: ProdLayer | None = None) -> float:
    """Point prod at `target` in one transaction; returns the window (BEGIN..COMMIT seconds).

    Views of `current` that `target` lacks are dropped in the same transaction (a model
    removed by the deployment, or a rollback to before the first deployment).
    """
    if target.dbt_slot:
        blue_green.check_switch(cursor, dialect, target.dbt_live_schema, target.dbt_slot, list(target.dbt_relations))
    stale_views = sorted(set(current.sqlmesh_views) - set(target.sqlmesh_views)) if current else []
    started = time.perf_counter()
    with transaction(cursor, dialect):
        for schema in sorted({view.rsplit(".", 1)[0] for view in target.sqlmesh_views}):
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for view, physical in sorted(target.sqlmesh_views.items()):
            _replace_view(cursor, view, physical)
        for view in stale_views:
            cursor.execute(f"DROP VIEW IF EXISTS {view}")
        if target.dbt_slot:
            blue_green.apply_switch(cursor, dialect, target.dbt_live_schema, target.dbt_slot, list(target.dbt_relations))
        elif current and current.dbt_slot:
            blue_green.apply_clear(cursor, dialect, current.dbt_live_schema, list(current.dbt_relations))
    return time.perf_counter() - started


def _replace_view(cursor: Any, view: str, physical: str) -> None:
    # Drop + create: PostgreSQL cannot CREATE OR REPLACE a view whose columns changed.
    # No CASCADE: if anything depends on the view the transaction fails and prod stays as it was.
    cursor.execute(f"DROP VIEW IF EXISTS {view}")
    cursor.execute(f"CREATE VIEW {view} AS SELECT * FROM {physical}")
