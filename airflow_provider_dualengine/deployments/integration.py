"""Integration validation of a green deployment against prod (row counts, nulls, means and contracts before promotion).

Per model, green relation vs prod relation: every prod column still present, no type
narrowed or changed, row count within a tolerance, a simple distribution check (null
share and mean of numeric columns), and across engines referential integrity: for each
cross-engine edge, key columns (`*_id`) the reader shares with its producer must find
their value upstream. Execution time is compared with the previous deployment by the
caller. Read-only; every finding names the relation and the numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlglot import exp

from airflow_provider_dualengine.deployments.green_relations import DeployedModel
from airflow_provider_dualengine.deployments.relations import Relation
from airflow_provider_dualengine.hooks.warehouse import Warehouse


@dataclass(frozen=True)
class Thresholds:
    row_count_tolerance: float = 0.1  # |green - prod| / prod
    mean_tolerance: float = 0.5  # relative change of a numeric column's mean
    null_share_tolerance: float = 0.1  # absolute change of a column's share of nulls
    duration_factor: float = 3.0  # green build may take this many times the previous one ...
    duration_grace_s: float = 120.0  # ... plus this, before it counts as a regression


@dataclass(frozen=True)
class Finding:
    check: str
    model: str
    passed: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate(
    warehouse: Warehouse, models: list[DeployedModel], cross_edges: list[tuple[str, str]], limits: Thresholds
) -> list[Finding]:
    """All checks over the deployed models; `cross_edges` are (producer, reader) model names."""
    from airflow_provider_dualengine.contracts.types import Compatibility, compare

    findings: list[Finding] = []
    by_name = {m.name: m for m in models}
    q = warehouse.quote
    for model in models:
        if not _exists(warehouse, model.green):
            findings.append(Finding("presence", model.name, False, f"{q(*model.green)} was not built"))
            continue
        if not _exists(warehouse, model.prod):
            findings.append(Finding("presence", model.name, True, f"{q(*model.prod)} is new in prod"))
            continue
        green_cols, prod_cols = _columns(warehouse, model.green), _columns(warehouse, model.prod)
        missing = [c for c in prod_cols if c not in green_cols]
        findings.append(
            Finding(
                "column_presence",
                model.name,
                not missing,
                f"{q(*model.green)} lacks prod column(s) {', '.join(missing)}"
                if missing
                else "every prod column present",
            )
        )
        changed = [
            f"{c} {prod_cols[c]} -> {green_cols[c]}"
            for c in prod_cols
            if c in green_cols
            and compare(prod_cols[c], green_cols[c], warehouse.dialect)
            in (Compatibility.NARROWER, Compatibility.DIFFERENT)
        ]
        findings.append(
            Finding(
                "data_types",
                model.name,
                not changed,
                f"type narrowed or changed: {'; '.join(changed)}" if changed else "types compatible",
            )
        )
        findings.extend(
            _data_checks(
                warehouse,
                model,
                [c for c in prod_cols if c in green_cols],
                {c: prod_cols[c] for c in prod_cols},
                limits,
            )
        )
    for producer, reader in cross_edges:
        if producer in by_name and reader in by_name:
            findings.extend(_referential(warehouse, by_name[producer], by_name[reader]))
    return findings


def _exists(warehouse: Warehouse, relation: Relation) -> bool:
    return warehouse.table_exists(relation[0], relation[1])


def _columns(warehouse: Warehouse, relation: Relation) -> dict[str, str]:
    from airflow_provider_dualengine.contracts.runtime import live_columns

    schema, table = relation
    return {name.lower(): kind for name, kind in live_columns(warehouse, schema, table).items()}


def _data_checks(
    warehouse: Warehouse, model: DeployedModel, columns: list[str], types: dict[str, str], limits: Thresholds
) -> list[Finding]:
    numeric = [c for c in columns if _is_numeric(types[c], warehouse.dialect)]
    stats = {
        side: _stats(warehouse, relation, columns, numeric)
        for side, relation in (("prod", model.prod), ("green", model.green))
    }
    prod_rows, green_rows = stats["prod"]["rows"], stats["green"]["rows"]
    change = abs(green_rows - prod_rows) / max(prod_rows, 1)
    found = [
        Finding(
            "row_count",
            model.name,
            change <= limits.row_count_tolerance,
            f"{green_rows} rows vs {prod_rows} in prod ({change:.0%} change, tolerance {limits.row_count_tolerance:.0%})",
        )
    ]
    drifted = []
    for column in columns:
        shares = [stats[s]["nulls"][column] / max(stats[s]["rows"], 1) for s in ("prod", "green")]
        if abs(shares[1] - shares[0]) > limits.null_share_tolerance:
            drifted.append(f"{column} nulls {shares[0]:.0%} -> {shares[1]:.0%}")
    for column in numeric:
        before, after = stats["prod"]["means"][column], stats["green"]["means"][column]
        if (
            before is not None
            and after is not None
            and abs(after - before) > limits.mean_tolerance * max(abs(before), 1e-9)
        ):
            drifted.append(f"{column} mean {before:.4g} -> {after:.4g}")
    found.append(
        Finding(
            "distribution",
            model.name,
            not drifted,
            "; ".join(drifted) if drifted else f"null shares and means of {len(columns)} columns within tolerance",
        )
    )
    return found


def _stats(warehouse: Warehouse, relation: Relation, columns: list[str], numeric: list[str]) -> dict[str, Any]:
    q = warehouse.quote
    parts = (
        ["count(*)"] + [f"count({q(c)})" for c in columns] + [f"avg(CAST({q(c)} AS DOUBLE PRECISION))" for c in numeric]
    )
    warehouse.execute(f"SELECT {', '.join(parts)} FROM {q(*relation)}")
    row = warehouse.fetchone()
    rows = int(row[0])
    nulls = {c: rows - int(v) for c, v in zip(columns, row[1 : 1 + len(columns)], strict=True)}
    means = {c: (float(v) if v is not None else None) for c, v in zip(numeric, row[1 + len(columns) :], strict=True)}
    return {"rows": rows, "nulls": nulls, "means": means}


def _referential(warehouse: Warehouse, producer: DeployedModel, reader: DeployedModel) -> list[Finding]:
    if not (_exists(warehouse, producer.green) and _exists(warehouse, reader.green)):
        return []
    shared = sorted(
        c
        for c in set(_columns(warehouse, producer.green)) & set(_columns(warehouse, reader.green))
        if c.endswith("_id")
    )
    found = []
    q = warehouse.quote
    for key in shared:
        k = q(key)
        warehouse.execute(
            f"SELECT count(*) FROM {q(*reader.green)} r WHERE r.{k} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(*producer.green)} p WHERE p.{k} = r.{k})"
        )
        orphans = int(warehouse.fetchone()[0])
        message = (
            f"{orphans} row(s) of {reader.name} have a {key} missing from {producer.name}"
            if orphans
            else f"every {key} of {reader.name} found in {producer.name}"
        )
        found.append(Finding("referential_integrity", reader.name, orphans == 0, message))
    return found


def _is_numeric(type_text: str, dialect: str) -> bool:
    try:
        return exp.DataType.build(type_text, dialect=dialect).is_type(*exp.DataType.NUMERIC_TYPES)
    except Exception:  # an exotic type sqlglot cannot read is simply not compared by mean
        return False


def duration_finding(staging_s: float, previous_s: float | None, limits: Thresholds) -> Finding:
    """The green build's duration against the previous deployment's (if there was one)."""
    if previous_s is None:
        return Finding(
            "execution_time", "(deployment)", True, f"built in {staging_s:.0f} s; no previous deployment to compare"
        )
    allowed = previous_s * limits.duration_factor + limits.duration_grace_s
    return Finding(
        "execution_time",
        "(deployment)",
        staging_s <= allowed,
        f"built in {staging_s:.0f} s vs {previous_s:.0f} s last time (allowed {allowed:.0f} s)",
    )
