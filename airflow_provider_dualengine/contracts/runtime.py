"""Enforce a data contract on the real table, in the warehouse, at run time.

The static checks compare what the engines *declare*; this reads what was *delivered*:
the relation, its columns and types, each column constraint (as counting queries) and the
freshness SLA. Everything runs in one read-only transaction that is rolled back, SQL text
only ever holds quoted identifiers and sqlglot-regenerated check expressions, and values
(names, accepted values) travel as bind parameters.

The report is complete: a check whose query fails is a failure and the next check still runs,
and a check that a missing column keeps from running is reported as not run (never as a
pass), so the on-call reader sees every consequence of one dropped or renamed column.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from difflib import SequenceMatcher
from typing import Any
from uuid import UUID

from airflow_provider_dualengine.config.contracts import (
    AcceptedValues,
    Check,
    ContractColumn,
    ContractModel,
    NotNull,
    Sla,
    Unique,
    parse_check_expression,
)
from airflow_provider_dualengine.contracts.types import Compatibility, compare
from airflow_provider_dualengine.hooks.warehouse import PARAM, Warehouse

_TEXT_TYPES = ("char", "text", "string", "varchar")
_NOT_RUN = "not run: "
_DEFAULT_SOURCE = "the producer's last Asset event"
_SIMILAR = 0.6  # difflib ratio from which a new column's name reads as a rename (get_close_matches' cutoff)


@dataclass
class CheckResult:
    """One check: `passed` False is a contract violation; `warning` marks a pass worth a look;
    `not_run` a check a missing column kept from running (never a pass: nobody knows)."""

    check: str  # relation_exists, column_exists, column_type, not_null, unique, accepted_values, check, freshness
    column: str | None
    passed: bool
    message: str
    failing_rows: int | None = None
    sample: list[Any] = field(default_factory=list)
    sample_key: str | None = None  # the column the sample values come from
    sql: str | None = None
    warning: bool = False
    not_run: bool = False

    def __post_init__(self) -> None:
        if self.not_run:
            self.passed = False

    @property
    def status(self) -> str:
        """passed, warning (a pass), failed or not_run: each result is exactly one."""
        if self.not_run:
            return "not_run"
        if not self.passed:
            return "failed"
        return "warning" if self.warning else "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "status": self.status,
            "passed": self.passed,
            "warning": self.warning,
            "not_run": self.not_run,
            "failing_rows": self.failing_rows,
            "sample_key": self.sample_key,
            "sample": [_json_safe(v) for v in self.sample],
            "message": self.message,
            "sql": self.sql,
        }

    def line(self) -> str:
        """The result for the summary, whose label already says "not run"."""
        text = self.message.removeprefix(_NOT_RUN) if self.not_run else self.message
        return f"{self.check}{' ' + self.column if self.column else ''}: {text}"


@dataclass
class ContractReport:
    model: str
    relation: str  # "schema"."table" as queried
    dialect: str
    checked_at: datetime
    results: list[CheckResult]
    last_update: datetime | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        """Checks that ran and found the contract broken (not-run checks are `not_run`)."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def not_run(self) -> list[CheckResult]:
        return [r for r in self.results if r.not_run]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "relation": self.relation,
            "dialect": self.dialect,
            "checked_at": self.checked_at.isoformat(),
            "last_update": self.last_update.isoformat() if self.last_update else None,
            "passed": self.passed,
            "checks": len(self.results),
            "failed": len(self.failures),
            "not_run": len(self.not_run),
            "warnings": len(self.warnings),
            "results": [r.to_dict() for r in self.results],
        }

    def summary(self) -> str:
        """What an on-call reader needs: every count, then each check that broke (how many
        rows, which keys), could not run, or passed with a warning. Clean passes stay out."""
        clean = len(self.results) - len(self.failures) - len(self.not_run) - len(self.warnings)
        head = (
            f"Contract {self.model} on {self.relation} ({self.dialect}): {'passed' if self.passed else 'FAILED'},"
            f" {_plural(len(self.results), 'check')}: {len(self.failures)} failed, {len(self.not_run)} not run,"
            f" {len(self.warnings)} passed with a warning, {clean} passed"
        )
        lines = [
            head,
            *(f"  FAILED {r.line()}" for r in self.failures),
            *(f"  NOT RUN {r.line()}" for r in self.not_run),
            *(f"  warning {r.line()}" for r in self.warnings),
        ]
        return "\n".join(lines)


class _Reader:
    """Runs the checks' queries in one read-only snapshot of a warehouse session
    (`Warehouse.begin_read_only`: any write refused on PostgreSQL, always rolled back). A
    failed query aborts the transaction in both engines, so it is rolled back and reopened
    before the next check.
    """

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self.dialect = warehouse.dialect

    def begin(self) -> None:
        self.warehouse.begin_read_only()

    def end(self) -> None:
        self.warehouse.end_read_only()

    def render(self, sql: str) -> str:
        return self.warehouse.render(sql)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self.warehouse.rows(sql, params)
        except Exception:
            self.end()
            self.begin()
            raise


@dataclass
class _Target:
    reader: _Reader
    relation: str
    columns: dict[str, tuple[str, str]]  # lower name -> (name as stored, type as the warehouse spells it)
    key: str | None  # stored name of the sample key column
    sample_size: int

    def ident(self, name: str) -> str:
        return self.reader.warehouse.quote(self.columns[name.lower()][0])


def check_contract(
    warehouse: Warehouse,
    schema: str,
    table: str,
    contract: ContractModel,
    now: datetime,
    last_update: datetime | None = None,
    sample_size: int = 5,
    *,
    last_update_source: str | None = None,
) -> ContractReport:
    """Check `schema.table` against `contract`; never writes, always rolls back.

    `last_update` is when the producer last wrote the data (by default its last Asset event),
    used for the freshness SLA when the contract names no `freshness_column`;
    `last_update_source` says where it was read (or, without one, where it was looked for and
    why nothing was found), in the freshness message.
    """
    reader = _Reader(warehouse)
    relation = warehouse.quote(schema, table)
    dated = (last_update, last_update_source or _DEFAULT_SOURCE)
    reader.begin()
    try:
        results = _run_checks(reader, relation, schema, table, contract, now, dated, max(0, int(sample_size)))
    finally:
        reader.end()
    return ContractReport(contract.name, relation, warehouse.dialect, now, results, last_update)


def _run_checks(
    reader: _Reader,
    relation: str,
    schema: str,
    table: str,
    contract: ContractModel,
    now: datetime,
    dated: tuple[datetime | None, str],
    sample_size: int,
) -> list[CheckResult]:
    """Every check of the contract, in order; each runs unless a missing column makes it
    meaningless, and a failing query only fails its own check (`_Reader.rows` reopens)."""
    exists = _relation_exists(reader, relation, schema, table)
    if not exists.passed:
        return [exists]
    columns, columns_sql = _actual_columns(reader, schema, table)
    renamed = _renames(contract, columns, reader.dialect)
    results = [exists]
    for column in contract.columns:
        results.extend(_column_shape(column, columns, reader.dialect, columns_sql, renamed.get(column.name.lower())))
    target = _Target(reader, relation, columns, _key_column(contract, columns), sample_size)
    missing = {c.name.lower(): c.name for c in contract.columns if c.name.lower() not in columns}
    for column in contract.columns:
        for constraint in column.constraints:
            blocked = _blocked(column.name, constraint, missing)
            results.append(blocked or _constraint(target, column.name, constraint))
    if contract.sla and contract.sla.max_age is not None:
        results.append(_freshness(target, contract.sla, now, *dated))
    return results


def _not_run(check: str, column: str | None, reason: str) -> CheckResult:
    return CheckResult(check, column, False, _NOT_RUN + reason, not_run=True)


def _blocked(column: str, constraint: Any, missing: dict[str, str]) -> CheckResult | None:
    """The not-run result of a constraint that needs a promised column the table lacks: its
    own column, or for a `check` any column its expression reads (an expression that reads
    a column nobody promised still runs, and fails as an error in the contract)."""
    needs = _reads(constraint.expression) if isinstance(constraint, Check) else [column.lower()]
    absent = [missing[name] for name in needs if name in missing]
    if not absent:
        return None
    reason = f"column {absent[0]} is missing" if len(absent) == 1 else f"columns {', '.join(absent)} are missing"
    if isinstance(constraint, Check) and absent != [missing.get(column.lower())]:
        reason += f" (check '{constraint.expression}' reads {'it' if len(absent) == 1 else 'them'})"
    return _not_run(constraint.type, column, reason)


def _reads(expression: str) -> list[str]:
    """The columns a check expression reads, lower-cased, each once."""
    from sqlglot import exp

    return list(dict.fromkeys(n.name.lower() for n in parse_check_expression(expression).find_all(exp.Column)))


# --- relation and columns -------------------------------------------------------------


def _relation_exists(reader: _Reader, relation: str, schema: str, table: str) -> CheckResult:
    sql = f"SELECT table_type FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = {PARAM} AND table_name = {PARAM}"
    if reader.rows(sql, [schema, table]):
        return CheckResult("relation_exists", None, True, f"{relation} exists", sql=reader.render(sql))
    others_sql = f"SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() AND table_schema = {PARAM} ORDER BY table_name LIMIT 10"
    others = [r[0] for r in reader.rows(others_sql, [schema])]
    hint = (
        f"; schema '{schema}' has: {', '.join(others)}"
        if others
        else f"; schema '{schema}' has no relations (or does not exist)"
    )
    return CheckResult(
        "relation_exists",
        None,
        False,
        f"relation {relation} does not exist or is not visible to this connection{hint}",
        sql=reader.render(sql),
    )


def _actual_columns(reader: _Reader, schema: str, table: str) -> tuple[dict[str, tuple[str, str]], str]:
    sql = (
        "SELECT column_name, data_type, udt_name, character_maximum_length, numeric_precision, numeric_scale"
        f" FROM information_schema.columns WHERE table_catalog = current_database() AND table_schema = {PARAM} AND table_name = {PARAM}"
        " ORDER BY ordinal_position"
    )
    rows = reader.rows(sql, [schema, table])
    return {r[0].lower(): (r[0], _type_text(reader.dialect, *r[1:])) for r in rows}, reader.render(sql)


def _type_text(
    dialect: str, data_type: str, udt_name: str | None, length: int | None, precision: int | None, scale: int | None
) -> str:
    """A type sqlglot can read: DuckDB spells it whole; PostgreSQL splits it into columns."""
    if dialect == "duckdb":
        return data_type
    if data_type == "ARRAY" and udt_name:
        return f"{udt_name.lstrip('_')}[]"
    if data_type == "USER-DEFINED" and udt_name:
        return udt_name
    if length is not None:
        return f"{data_type}({length})"
    if data_type == "numeric" and precision is not None:
        return f"numeric({precision},{scale or 0})"
    return data_type


def _column_shape(
    column: ContractColumn,
    columns: dict[str, tuple[str, str]],
    dialect: str,
    sql: str,
    renamed: tuple[str, str] | None = None,
) -> list[CheckResult]:
    found = columns.get(column.name.lower())
    if found is None:
        hint = (
            f"; new column {renamed[0]} ({renamed[1]}) looks like it was renamed from {column.name}" if renamed else ""
        )
        return [
            CheckResult(
                "column_exists",
                column.name,
                False,
                f"column {column.name} is missing{hint} (the table has: {', '.join(n for n, _ in columns.values())})",
                sql=sql,
            )
        ]
    present = CheckResult("column_exists", column.name, True, "present", sql=sql)
    try:
        verdict = compare(column.data_type, found[1], dialect)
    except Exception as exc:  # a warehouse type sqlglot cannot read
        return [
            present,
            CheckResult(
                "column_type",
                column.name,
                False,
                f"type {found[1]} could not be compared with promised {column.data_type}: {exc}",
                sql=sql,
            ),
        ]
    text = f"promised {column.data_type}, table has {found[1]}"
    if verdict in (Compatibility.NARROWER, Compatibility.DIFFERENT):
        return [present, CheckResult("column_type", column.name, False, f"{verdict.value} type: {text}", sql=sql)]
    return [
        present,
        CheckResult(
            "column_type",
            column.name,
            True,
            f"{verdict.value}: {text}",
            sql=sql,
            warning=verdict == Compatibility.WIDER,
        ),
    ]


def _renames(contract: ContractModel, columns: dict[str, tuple[str, str]], dialect: str) -> dict[str, tuple[str, str]]:
    """Missing promised column (lower name) -> the table's (name, type) it was likely renamed to.

    A candidate is a column no contract column names whose type holds the promised one (same
    or wider). Similar names pair first, most similar first; a missing column still without a
    match takes its only candidate, unless another missing column could be that one as well.
    """
    promised = {c.name.lower() for c in contract.columns}
    new = {name: found for name, found in columns.items() if name not in promised}
    fits = {
        c.name.lower(): [name for name, (_, actual) in new.items() if _holds(c.data_type, actual, dialect)]
        for c in contract.columns
        if c.name.lower() not in columns
    }
    similar = sorted(
        ((SequenceMatcher(None, gone, name).ratio(), gone, name) for gone, names in fits.items() for name in names),
        reverse=True,
    )
    renamed: dict[str, str] = {}
    for ratio, gone, name in similar:
        if ratio >= _SIMILAR and gone not in renamed and name not in renamed.values():
            renamed[gone] = name
    unmatched = {
        gone: [n for n in names if n not in renamed.values()] for gone, names in fits.items() if gone not in renamed
    }
    for gone, names in unmatched.items():
        if len(names) == 1 and sum(names[0] in others for others in unmatched.values()) == 1:
            renamed[gone] = names[0]
    return {gone: new[name] for gone, name in renamed.items()}


def _holds(promised: str, actual: str, dialect: str) -> bool:
    try:
        return compare(promised, actual, dialect) in (Compatibility.SAME, Compatibility.WIDER)
    except Exception:  # a warehouse type sqlglot cannot read is no rename candidate
        return False


def _key_column(contract: ContractModel, columns: dict[str, tuple[str, str]]) -> str | None:
    """The first unique column, else the first column; only if the table has it."""
    candidates = [c for c in contract.columns if c.has("unique")] + list(contract.columns)
    for column in candidates:
        if column.name.lower() in columns:
            return columns[column.name.lower()][0]
    return None


# --- constraints ----------------------------------------------------------------------


def _constraint(target: _Target, column: str, constraint: Any) -> CheckResult:
    if isinstance(constraint, NotNull):
        return _failing(
            target, "not_null", column, f"{target.ident(column)} IS NULL", [], f"with {column} NULL", avoid_key=column
        )
    if isinstance(constraint, AcceptedValues):
        condition, params = _not_accepted(target, column, constraint.values)
        return _failing(
            target, "accepted_values", column, condition, params, f"with {column} not in {constraint.values}"
        )
    if isinstance(constraint, Check):
        try:
            predicate = _check_sql(constraint.expression, target)
        except ValueError as exc:
            return CheckResult("check", column, False, f"check '{constraint.expression}' cannot be run: {exc}")
        return _failing(target, "check", column, f"NOT ({predicate})", [], f"failing check '{constraint.expression}'")
    if isinstance(constraint, Unique):
        return _unique(target, column)
    raise TypeError(f"unknown constraint {constraint!r}")


def _failing(
    target: _Target, check: str, column: str, condition: str, params: list[Any], what: str, avoid_key: str | None = None
) -> CheckResult:
    """Count the rows matching `condition` (the violations) and sample their keys."""
    sql = f"SELECT count(*) FROM {target.relation} WHERE {condition}"
    try:
        count = int(target.reader.rows(sql, params)[0][0])
    except Exception as exc:
        return _error(check, column, sql, target.reader, exc)
    if count == 0:
        return CheckResult(check, column, True, f"0 rows {what}", failing_rows=0, sql=target.reader.render(sql))
    key = _sample_key(target, avoid_key)
    sample: list[Any] = []
    if key and target.sample_size:
        key_sql = target.reader.warehouse.quote(key)
        sample = _sample(
            target.reader,
            f"SELECT {key_sql} FROM {target.relation} WHERE {condition} ORDER BY {key_sql} LIMIT {target.sample_size}",
            params,
        )
    return CheckResult(
        check,
        column,
        False,
        f"{_plural(count, 'row')} {what}{_sample_text(key, sample)}",
        failing_rows=count,
        sample=sample,
        sample_key=key,
        sql=target.reader.render(sql),
    )


def _sample(reader: _Reader, sql: str, params: list[Any]) -> list[Any]:
    """Sample values are a courtesy: the count already decided the check."""
    try:
        return [r[0] for r in reader.rows(sql, params)]
    except Exception:
        return []


def _sample_key(target: _Target, avoid: str | None) -> str | None:
    """The key column, unless it is the column found NULL (its values would all be NULL)."""
    if target.key and (avoid is None or target.key.lower() != avoid.lower()):
        return target.key
    return next((name for name, _ in target.columns.values() if avoid is None or name.lower() != avoid.lower()), None)


def _not_accepted(target: _Target, column: str, values: list[Any]) -> tuple[str, list[Any]]:
    """Numbers compare as numbers; anything else as text (bound, never spliced). NULL passes."""
    ident = target.ident(column)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    is_text = any(t in target.columns[column.lower()][1].lower() for t in _TEXT_TYPES)
    subject = ident if numeric or is_text else f"CAST({ident} AS TEXT)"
    params = list(values) if numeric else [str(v) for v in values]
    return f"{ident} IS NOT NULL AND {subject} NOT IN ({', '.join([PARAM] * len(params))})", params


def _check_sql(expression: str, target: _Target) -> str:
    """The check re-generated for the warehouse, its columns quoted as the table spells them."""
    from sqlglot import exp

    tree = parse_check_expression(expression)
    for node in tree.find_all(exp.Column):
        stored = target.columns.get(node.name.lower(), (node.name, ""))[0]
        node.set("this", exp.to_identifier(stored, quoted=True))
    return tree.sql(dialect=target.reader.dialect)


def _unique(target: _Target, column: str) -> CheckResult:
    """A cheap screen first (count vs count distinct: one scan, no spilling hash table on
    PostgreSQL); only duplicated data pays for grouping, which also yields the sample."""
    ident = target.ident(column)
    screen = f"SELECT count({ident}) - count(DISTINCT {ident}) FROM {target.relation}"
    groups = f"SELECT {ident} AS v, count(*) AS n FROM {target.relation} WHERE {ident} IS NOT NULL GROUP BY {ident} HAVING count(*) > 1"
    detail = f"SELECT v, count(*) OVER (), sum(n) OVER () FROM ({groups}) AS duplicates ORDER BY v LIMIT {max(1, target.sample_size)}"
    try:
        if int(target.reader.rows(screen)[0][0]) == 0:
            return CheckResult("unique", column, True, "0 duplicated values", failing_rows=0, sql=screen)
        found = target.reader.rows(detail)
    except Exception as exc:
        return _error("unique", column, screen, target.reader, exc)
    values, rows = int(found[0][1]), int(found[0][2])
    sample = [r[0] for r in found][: target.sample_size]
    message = f"{_plural(values, 'value')} repeated, in {_plural(rows, 'row')}{_sample_text(column, sample)}"
    return CheckResult(
        "unique", column, False, message, failing_rows=rows, sample=sample, sample_key=column, sql=groups
    )


def _error(check: str, column: str | None, sql: str, reader: _Reader, exc: Exception) -> CheckResult:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CheckResult(check, column, False, f"could not be evaluated: {first}", sql=reader.render(sql))


# --- freshness ------------------------------------------------------------------------


def _freshness(
    target: _Target, sla: Sla, now: datetime, last_update: datetime | None, last_update_source: str = _DEFAULT_SOURCE
) -> CheckResult:
    max_age = sla.max_age
    assert max_age is not None
    column, sql = sla.freshness_column, None
    if column:
        if column.lower() not in target.columns:
            return _not_run(
                "freshness", column, f"freshness_column {column} is missing, so SLA '{sla.freshness}' is unchecked"
            )
        sql = f"SELECT max({target.ident(column)}) FROM {target.relation}"
        try:
            newest, source = target.reader.rows(sql)[0][0], f"max({column})"
        except Exception as exc:
            return _error("freshness", column, sql, target.reader, exc)
        if newest is None:
            return CheckResult(
                "freshness",
                column,
                False,
                f"no rows with a {column} value, so no data within '{sla.freshness}'",
                sql=sql,
            )
    elif last_update is not None:
        newest, source = last_update, last_update_source
    else:
        return CheckResult(
            "freshness",
            None,
            False,
            f"freshness SLA '{sla.freshness}' could not be checked: nothing dated the producer's data (the contract"
            f" names no freshness_column, and no last write was found; looked up: {last_update_source}); the static"
            " check normally prevents this. Fix: give the contract a freshness_column, or make sure the producer's"
            " last write is recorded",
        )
    if not isinstance(newest, date):
        return CheckResult("freshness", column, False, f"{source} is {newest!r}, not a date or timestamp", sql=sql)
    age = _utc(now) - _utc(newest)
    text = f"{source} is {_utc(newest).isoformat()}, {_duration(age)} old; SLA '{sla.freshness}'"
    return CheckResult("freshness", column, age <= max_age, ("stale: " if age > max_age else "") + text, sql=sql)


def _utc(value: date) -> datetime:
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _duration(age: timedelta) -> str:
    return str(timedelta(seconds=round(age.total_seconds())))


# --- values ---------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _sample_text(key: str | None, sample: list[Any]) -> str:
    if not key or not sample:
        return ""
    return f"; sample {key}: {', '.join('NULL' if v is None else str(v) for v in sample)}"


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (Decimal, UUID, timedelta)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def live_columns(warehouse: Warehouse, schema: str, table: str) -> dict[str, str]:
    """A relation's columns as deployed: name -> type as sqlglot reads it in the
    warehouse's own dialect (empty if the relation is absent)."""
    reader = _Reader(warehouse)
    reader.begin()
    try:
        columns, _ = _actual_columns(reader, schema, table)
    finally:
        reader.end()
    return {name: type_text for name, type_text in columns.values()}
