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

from airflow_provider_dualengine.deployments.plan import DeployedModel
from airflow_provider_dualengine.engines.warehouse import quote_ident, relation_exists


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
    cursor: Any, dialect: str, models: list[DeployedModel], cross_edges: list[tuple[str, str]], limits: Thresholds
) -> list[Finding]:
    """All checks over the deployed models; `cross_edges` are (producer, reader) model names."""
    from airflow_provider_dualengine.contracts.types import Compatibility, compare

    findings: list[Finding] = []
    by_name = {m.name: m for m in models}
    for model in models:
        if not relation_exists(cursor, dialect, model.green):
            findings.append(Finding("presence", model.name, False, f"{model.green} was not built"))
            continue
        if not relation_exists(cursor, dialect, model.prod):
            findings.append(Finding("presence", model.name, True, f"{model.prod} is new in prod"))
            continue
        green_cols, prod_cols = _columns(cursor, dialect, model.green), _columns(cursor, dialect, model.prod)
        missing = [c for c in prod_cols if c not in green_cols]
        findings.append(
            Finding(
                "column_presence",
                model.name,
                not missing,
                f"{model.green} lacks prod column(s) {', '.join(missing)}" if missing else "every prod column present",
            )
        )
        changed = [
            f"{c} {prod_cols[c]} -> {green_cols[c]}"
            for c in prod_cols
            if c in green_cols
            and compare(prod_cols[c], green_cols[c], dialect) in (Compatibility.NARROWER, Compatibility.DIFFERENT)
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
                cursor,
                dialect,
                model,
                [c for c in prod_cols if c in green_cols],
                {c: prod_cols[c] for c in prod_cols},
                limits,
            )
        )
    for producer, reader in cross_edges:
        if producer in by_name and reader in by_name:
            findings.extend(_referential(cursor, dialect, by_name[producer], by_name[reader]))
    return findings


def _columns(cursor: Any, dialect: str, relation: str) -> dict[str, str]:
    from airflow_provider_dualengine.contracts.runtime import live_columns

    table = exp.to_table(relation, dialect=dialect)
    return {name.lower(): kind for name, kind in live_columns(cursor, dialect, table.db, table.name).items()}


def _data_checks(
    cursor: Any, dialect: str, model: DeployedModel, columns: list[str], types: dict[str, str], limits: Thresholds
) -> list[Finding]:
    numeric = [c for c in columns if _is_numeric(types[c], dialect)]
    stats = {
        side: _stats(cursor, relation, columns, numeric)
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


def _stats(cursor: Any, relation: str, columns: list[str], numeric: list[str]) -> dict[str, Any]:
    parts = (
        ["count(*)"]
        + [f"count({quote_ident(c)})" for c in columns]
        + [f"avg(CAST({quote_ident(c)} AS DOUBLE PRECISION))" for c in numeric]
    )
    cursor.execute(f"SELECT {', '.join(parts)} FROM {relation}")
    row = cursor.fetchone()
    rows = int(row[0])
    nulls = {c: rows - int(v) for c, v in zip(columns, row[1 : 1 + len(columns)], strict=True)}
    means = {c: (float(v) if v is not None else None) for c, v in zip(numeric, row[1 + len(columns) :], strict=True)}
    return {"rows": rows, "nulls": nulls, "means": means}


def _referential(cursor: Any, dialect: str, producer: DeployedModel, reader: DeployedModel) -> list[Finding]:
    if not (relation_exists(cursor, dialect, producer.green) and relation_exists(cursor, dialect, reader.green)):
        return []
    shared = sorted(
        c
        for c in set(_columns(cursor, dialect, producer.green)) & set(_columns(cursor, dialect, reader.green))
        if c.endswith("_id")
    )
    found = []
    for key in shared:
        k = quote_ident(key)
        cursor.execute(
            f"SELECT count(*) FROM {reader.green} r WHERE r.{k} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {producer.green} p WHERE p.{k} = r.{k})"
        )
        orphans = int(cursor.fetchone()[0])
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
