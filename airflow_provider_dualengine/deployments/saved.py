"""What a deployment saved for its rollback, read back from its record and checked first.

Records live in the warehouse (`dualengine.deployments`): whoever can write that table
can change them, and a rollback runs with the deploy connection. So before a rollback, a
conclusion or the settling of an interrupted deployment acts on a record, every name in it
is checked against what the engines report:

- SQLMesh views and physical tables: exactly the view and table SQLMesh's state gives for
  the recorded snapshot, which must be a snapshot of one of the project's models (or of a
  model the environment held at its last finalization: one a deployment removed);
- the saved SQLMesh environment: snapshots known to state, of those models, covering the
  saved views (restore_state rebuilds the environment from state by id, not from the record);
- dbt: the project's live schema, one of its two slots, relations of the project's dbt
  models (or, for a model a deployment removed, a table dbt built in that slot);
- checksums: for exactly the checked prod relations (they are recomputed over those).

Anything else refuses the whole record (`RecordRefused`), before anything from it runs.
Records of format 1 (names stored as SQL text, before this check existed) are refused too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from airflow_provider_dualengine.deployments import dbt_slots
from airflow_provider_dualengine.deployments.checksums import Checksums
from airflow_provider_dualengine.deployments.promotion import LayerFormatError, ProdLayer
from airflow_provider_dualengine.deployments.relations import Relation, shown
from airflow_provider_dualengine.engines.sqlmesh.names import plain_name
from airflow_provider_dualengine.hooks.warehouse import Warehouse

FORMAT = 2  # details["format"]; format 1 stored quoted SQL names and is never read back
Refuse = Callable[[str, Any, str], "RecordRefused"]  # (field, value, reason) -> the refusal to raise


class RecordRefused(Exception):
    """A deployment record holds something the engines do not confirm; nothing from it ran."""

    def __init__(self, deployment_id: str, field: str, value: Any, reason: str):
        value_text = repr(value) if len(repr(value)) <= 300 else repr(value)[:300] + "..."
        super().__init__(
            f"deployment {deployment_id}: refusing to act on its record: {field} = {value_text} {reason}; nothing from the record was executed. "
            "Inspect it (`dualengine deployments --json`); to return to earlier code, deploy that code again"
        )
        self.deployment_id, self.field, self.value, self.reason = deployment_id, field, value, reason


@dataclass(frozen=True)
class Saved:
    """The checked parts of a record a rollback acts on."""

    before: ProdLayer
    checksums: Checksums
    dbt_slot: str
    target: ProdLayer | None = None
    sqlmesh_state: list[list[str]] | None = None


def read(record: dict[str, Any], site: Any, ctx: Any, warehouse: Warehouse, restore: bool = False) -> Saved:
    """The saved prod layer, checksums and dbt slot of a record, checked against the engines
    (`ctx`: a SQLMesh Context of the project, `warehouse`: a session on its warehouse); with `restore`,
    also the promoted layer and the saved SQLMesh environment. Raises RecordRefused."""
    details, deployment_id = record["details"], record["id"]
    refuse = partial(RecordRefused, deployment_id)
    if not isinstance(details, dict) or details.get("format") != FORMAT:
        found = details.get("format") if isinstance(details, dict) else details
        raise refuse(
            "format",
            found,
            f"is not {FORMAT} (records of earlier versions stored names as SQL text and are not read back)",
        )
    before = layer(details, "before", site, ctx, warehouse, deployment_id)
    saved = Saved(
        before, _checksums(details.get("checksums_before"), before, refuse), dbt_slot(details, site, deployment_id)
    )
    if not restore:
        return saved
    target = layer(details, "target", site, ctx, warehouse, deployment_id)
    return replace(
        saved,
        target=target,
        sqlmesh_state=_sqlmesh_state(details.get("sqlmesh_state_before"), before, site, ctx, refuse),
    )


def layer(
    details: dict[str, Any], field: str, site: Any, ctx: Any, warehouse: Warehouse, deployment_id: str
) -> ProdLayer:
    """A stored prod layer whose every name the engines confirm."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import UntrustedName, check_bindings

    refuse = partial(RecordRefused, deployment_id)
    if field not in details:
        raise refuse(field, None, "is missing")
    try:
        found = ProdLayer.from_dict(details[field], field)
    except LayerFormatError as exc:
        raise refuse(exc.field, exc.value, exc.reason) from None
    _check_dbt(found, field, site, warehouse, refuse)
    views = [b.view for b in found.sqlmesh_views]
    if len(set(views)) != len(views):
        raise refuse(f"{field}.sqlmesh_views", sorted(views), "names a view twice")
    try:
        check_bindings(ctx, list(found.sqlmesh_views), site.sqlmesh_environment)
    except UntrustedName as exc:
        raise refuse(f"{field}.sqlmesh_views", exc.value, exc.reason) from None
    return found


def number(value: Any) -> float | None:
    """A number read back from a record (seconds, say), or None if it is not one."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def dbt_slot(details: dict[str, Any], site: Any, deployment_id: str) -> str:
    """The dbt slot a deployment built into: one of the live schema's two slots."""
    slot = details.get("dbt_slot")
    if slot not in dbt_slots.slot_names(site.dbt_live_schema):
        raise RecordRefused(
            deployment_id,
            "dbt_slot",
            slot,
            f"is not a slot of '{site.dbt_live_schema}' (one of {', '.join(dbt_slots.slot_names(site.dbt_live_schema))})",
        )
    return slot


def _check_dbt(found: ProdLayer, field: str, site: Any, warehouse: Warehouse, refuse: Refuse) -> None:
    if found.dbt_live_schema != site.dbt_live_schema:
        raise refuse(
            f"{field}.dbt_live_schema",
            found.dbt_live_schema,
            f"is not this environment's dbt schema '{site.dbt_live_schema}'",
        )
    if found.dbt_slot is not None and found.dbt_slot not in dbt_slots.slot_names(site.dbt_live_schema):
        raise refuse(
            f"{field}.dbt_slot",
            found.dbt_slot,
            f"is not a slot of '{site.dbt_live_schema}' (one of {', '.join(dbt_slots.slot_names(site.dbt_live_schema))})",
        )
    if len(set(found.dbt_relations)) != len(found.dbt_relations) or (found.dbt_relations and found.dbt_slot is None):
        raise refuse(f"{field}.dbt_relations", list(found.dbt_relations), "repeats a relation or has no slot")
    built = (
        set(warehouse.list_tables(found.dbt_slot))
        if found.dbt_slot and set(found.dbt_relations) - set(site.dbt_relations)
        else set()
    )
    for relation in found.dbt_relations:
        if relation not in site.dbt_relations and relation not in built:
            raise refuse(
                f"{field}.dbt_relations",
                relation,
                f"is not a dbt model of this project (nor a table dbt built in {found.dbt_slot})",
            )


def _checksums(value: Any, before: ProdLayer, refuse: Refuse) -> Checksums:
    """Stored checksums for exactly the prod relations of the checked layer."""
    expected: set[Relation] = set(before.relations())
    if not isinstance(value, list):
        raise refuse("checksums_before", value, "is not a list of {relation, checksum}")
    found: Checksums = {}
    for entry in value:
        relation = entry.get("relation") if isinstance(entry, dict) else None
        key = tuple(relation) if isinstance(relation, list) and all(isinstance(p, str) for p in relation) else None
        if key is None or key not in expected or key in found:
            raise refuse(
                "checksums_before",
                relation if key else entry,
                "is not a prod relation of the saved layer (or is listed twice)",
            )
        sums = entry.get("checksum")
        if not (
            sums is None
            or (isinstance(sums, list) and len(sums) == 2 and isinstance(sums[0], int) and isinstance(sums[1], str))
        ):
            raise refuse(f"checksums_before[{shown(key)}]", sums, "is not [row count, digest]")
        found[key] = sums
    missing = sorted(expected - set(found))
    if missing:
        raise refuse("checksums_before", None, f"lacks the prod relation {shown(missing[0])}")
    return found


def _sqlmesh_state(value: Any, before: ProdLayer, site: Any, ctx: Any, refuse: Refuse) -> list[list[str]] | None:
    """The saved SQLMesh environment: snapshots in state, of the project's models, covering
    every saved view."""
    from airflow_provider_dualengine.engines.sqlmesh.promotion import UntrustedName, check_saved_environment

    if value is None:
        if before.sqlmesh_views:
            raise refuse("sqlmesh_state_before", None, "is missing although before.sqlmesh_views names views")
        return None
    try:
        check_saved_environment(ctx, value, site.sqlmesh_environment)
    except UntrustedName as exc:
        raise refuse("sqlmesh_state_before", exc.value, exc.reason) from None
    uncovered = sorted({(b.model, b.snapshot) for b in before.sqlmesh_views} - {tuple(pair) for pair in value})
    if uncovered:
        model, snapshot = uncovered[0]
        named = next((pair for pair in value if pair[0] == model), None)
        raise refuse(
            "sqlmesh_state_before",
            named,
            f"is not the snapshot {snapshot} of {plain_name(model)} that before.sqlmesh_views names (both were saved from one SQLMesh environment)",
        )
    return value
