"""What each engine reports about its models, in engine-neutral form.

Catalogs are cheap to build (no SQLMesh Context, no dbt invocation) because the DAG
factory needs them at parse time.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CatalogModel:
    engine: str
    name: str  # SQLMesh: schema.table; dbt: model name
    path: Path | None = None
    unique_id: str | None = None  # dbt node id, used to address Cosmos tasks
    kind: str | None = None
    schema: str | None = None
    depends_on: tuple[str, ...] = ()  # same-engine upstream models
    cron: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    # Tables read outside the engine's own models (schema.table, prod names): dbt sources,
    # or SQLMesh references that are not SQLMesh models. Cross-engine edges come from these.
    reads_tables: tuple[str, ...] = ()
    engine_refs: tuple[str, ...] = ()  # other-engine models read by ref() (dbt -> SQLMesh)
    checks: tuple[str, ...] = ()  # dbt tests / SQLMesh audits attached to the model
    relation: str | None = None  # where the engine writes it (dbt: target schema.alias)
    # Columns read per input, from the model's SQL (engines/column_reads.py): keys
    # `sqlmesh:<model>`, `dbt:<model>` or `table:<schema.table>`; "*" = every column.
    # None: unknown (no SQL to read, or an artifact compiled before this was recorded).
    columns_read: dict[str, tuple[str, ...]] | None = None
    # Files the model loads (SQLMesh seed CSVs), relative to the engine's project folder.
    reads_files: tuple[str, ...] = ()
    # Output column types where the engine's project does not declare them, inferred from
    # the compiled SQL and the input tables' types (dbt models; engines/column_types.py).
    inferred_types: dict[str, str] = field(default_factory=dict)
    owner: str | None = None  # SQLMesh's `owner`; dbt's meta owner, else its group's owner


@dataclass
class ModelCatalog:
    engine: str
    source: Path
    models: dict[str, CatalogModel] = field(default_factory=dict)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {
            name: {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(m).items()}
            for name, m in self.models.items()
        }

    @classmethod
    def from_json(cls, engine: str, source: Path, models: dict[str, dict[str, Any]]) -> ModelCatalog:
        tuples = ("depends_on", "reads_tables", "engine_refs", "checks", "reads_files")
        return cls(
            engine,
            source,
            {
                name: CatalogModel(
                    **{
                        **m,
                        "path": Path(m["path"]) if m.get("path") else None,
                        **{k: tuple(m.get(k, ())) for k in tuples},
                        "columns_read": _columns_read(m.get("columns_read")),
                    }
                )
                for name, m in models.items()
            },
        )

    def resolve(self, name: str) -> tuple[CatalogModel | None, str]:
        """Find a model by full name or by a unique last part; else (None, reason)."""
        if name in self.models:
            return self.models[name], ""
        by_short = [m for full, m in self.models.items() if full.rsplit(".", 1)[-1] == name]
        if len(by_short) == 1:
            return by_short[0], ""
        if len(by_short) > 1:
            names = ", ".join(sorted(m.name for m in by_short))
            return None, f"'{name}' is ambiguous in the {self.engine} project: {names}; use the full name"
        close = difflib.get_close_matches(name, list(self.models), n=3, cutoff=0.6)
        maybe = f"; did you mean {', '.join(close)}?" if close else ""
        return None, f"model '{name}' does not exist in the {self.engine} project ({self.source}){maybe}"


def _columns_read(value: Any) -> dict[str, tuple[str, ...]] | None:
    return None if value is None else {source: tuple(columns) for source, columns in value.items()}
