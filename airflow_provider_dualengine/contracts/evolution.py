"""Schema evolution: which contract changes break consumers, and whether they are allowed.

A contract is a promise in both directions: consumers rely on every column, type,
constraint and SLA it lists; producers must deliver all of them. So:

* loosening a promise (column/model gone, narrower or other type, constraint dropped,
  more accepted values, slower freshness SLA) breaks consumers;
* tightening a constraint on an existing column (gains not_null/unique/check, fewer
  accepted values) breaks producers: rows they already emit would violate it;
* adding (columns, models), widening a type, deprecating a column, tightening an SLA
  and editing descriptions are reported but never block.

A breaking change is *allowed* when the contract's major version goes up (2 -> 3):
that is how the producer tells consumers "this release is incompatible". Non-breaking
changes are always allowed. `blocking` = breaking and not allowed.

The same rules, minus versioning, apply to a producer's live schema (prod
`information_schema`, SQLMesh `columns_to_types`, a dbt build) against its contract.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from airflow_provider_dualengine.config.contracts import (
    CONTRACT_DIALECT,
    Contract,
    ContractColumn,
    ContractModel,
    load_contracts,
    parse_check_expression,
)
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.contracts.types import Compatibility, compare

Level = Literal["breaking", "warning", "info"]


@dataclass(frozen=True)
class Change:
    """One difference. `allowed` means it may ship as is (non-breaking, or a major bump)."""

    model: str
    column: str | None
    kind: str
    detail: str
    breaking: bool
    allowed: bool
    level: Level = "info"
    hint: str = ""  # what to do about it

    @property
    def blocking(self) -> bool:
        return self.breaking and not self.allowed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "blocking": self.blocking}

    def render(self) -> str:
        where = f"{self.model}.{self.column}" if self.column else self.model
        label = "BLOCKING" if self.blocking else ("breaking, allowed" if self.breaking else self.level)
        text = f"[{label}] {where}: {self.detail} ({self.kind})"
        return f"{text}\n    fix: {self.hint}" if self.hint else text


@dataclass(frozen=True)
class EvolutionReport:
    changes: tuple[Change, ...] = ()

    @property
    def blocking(self) -> bool:
        return any(c.blocking for c in self.changes)

    @property
    def blocking_changes(self) -> list[Change]:
        return [c for c in self.changes if c.blocking]

    @property
    def breaking_changes(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    def kinds(self) -> list[str]:
        return [c.kind for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "blocking": self.blocking,
            "counts": {
                "blocking": len(self.blocking_changes),
                "breaking": len(self.breaking_changes),
                "total": len(self.changes),
            },
            "changes": [c.to_dict() for c in self.changes],
        }

    def summary(self) -> str:
        """Blocking changes first (each with its fix), then allowed breaking ones, then the rest."""
        if not self.changes:
            return "No contract changes."
        blocking = self.blocking_changes
        allowed = [c for c in self.breaking_changes if not c.blocking]
        rest = [c for c in self.changes if not c.breaking]
        head = (
            f"{len(blocking)} blocking contract change{'s' if len(blocking) != 1 else ''}"
            if blocking
            else "No blocking contract changes"
        )
        lines = [f"{head} ({len(self.breaking_changes)} breaking, {len(self.changes)} in total)."]
        lines += [c.render() for c in [*blocking, *allowed, *rest]]
        return "\n".join(lines)


# --- building changes -------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    """The old and new contract of one model; decides allowance and writes the fix hints."""

    old: Contract
    new: Contract

    @property
    def name(self) -> str:
        return self.old.model.name

    @property
    def bumped(self) -> bool:
        return self.new.major > self.old.major

    def breaking(self, kind: str, column: str | None, detail: str, act: str, keep: str) -> Change:
        return _breaking(self.old, self.new.major if self.bumped else None, kind, column, detail, act, keep)

    def note(self, kind: str, column: str | None, detail: str, level: Level = "info", hint: str = "") -> Change:
        return Change(self.name, column, kind, detail, breaking=False, allowed=True, level=level, hint=hint)


def _breaking(
    old: Contract, bumped_to: int | None, kind: str, column: str | None, detail: str, act: str, keep: str
) -> Change:
    """`act` is what to tell/ensure when shipping it, `keep` the compatible alternative."""
    if bumped_to is not None:
        hint = f"allowed by the major version bump ({old.major} -> {bumped_to}); {act}"
    else:
        hint = f"bump the contract's major version ({old.major} -> {old.major + 1}) in {old.file.name} and {act}, or {keep}"
    return Change(
        old.model.name, column, kind, detail, breaking=True, allowed=bumped_to is not None, level="breaking", hint=hint
    )


def _consumers(model: ContractModel) -> str:
    return f"consumers ({', '.join(model.consumers)})" if model.consumers else "its consumers"


# --- contract vs contract ---------------------------------------------------------------


def diff_contracts(old: list[Contract], new: list[Contract]) -> EvolutionReport:
    """Every change from `old` to `new`, per model (matched by name, so moving a model
    between files is not a change)."""
    new_by_name = {c.model.name: c for c in new}
    old_names = {c.model.name for c in old}
    changes: list[Change] = []
    for before in old:
        after = new_by_name.get(before.model.name)
        if after is None:
            changes.append(_model_removed(before, new))
        else:
            changes.extend(_diff_model(_Pair(before, after)))
    for after in new:
        if after.model.name not in old_names:
            changes.append(
                Change(
                    after.model.name,
                    None,
                    "model_added",
                    f"new contract for model '{after.model.name}'",
                    breaking=False,
                    allowed=True,
                )
            )
    return EvolutionReport(tuple(changes))


def _model_removed(old: Contract, new: list[Contract]) -> Change:
    """Allowed only when the file it lived in is still there with a higher major version:
    deleting a file says nothing about intent."""
    bumps = [c.major for c in new if c.file.name == old.file.name and c.major > old.major]
    return _breaking(
        old,
        max(bumps) if bumps else None,
        "model_removed",
        None,
        f"model '{old.model.name}' no longer has a contract (was in {old.file.name})",
        act=f"tell {_consumers(old.model)} to stop reading it",
        keep="keep its contract",
    )


def _diff_model(pair: _Pair) -> list[Change]:
    old_model, new_model = pair.old.model, pair.new.model
    removed = [c for c in old_model.columns if new_model.column(c.name) is None]
    added = [c for c in new_model.columns if old_model.column(c.name) is None]
    renames = _match_renames(removed, added)
    changes = [_column_renamed(pair, a, b) for a, b in renames]
    renamed_old = {a.name for a, _ in renames}
    renamed_new = {b.name for _, b in renames}
    changes += [_column_removed(pair, c) for c in removed if c.name not in renamed_old]
    for before in old_model.columns:
        after = new_model.column(before.name)
        if after is not None:
            changes += _diff_column(pair, before, after)
    changes += [
        pair.note("column_added", c.name, f"new column '{c.name}' ({c.data_type})")
        for c in added
        if c.name not in renamed_new
    ]
    changes += _diff_sla(pair)
    changes += _diff_model_meta(pair)
    return changes


def _match_renames(
    removed: list[ContractColumn], added: list[ContractColumn]
) -> list[tuple[ContractColumn, ContractColumn]]:
    """Pair each removed column with an added one of the same type, else a wider one (in
    file order). A guess, but the change is breaking either way; the name just helps."""
    pairs: list[tuple[ContractColumn, ContractColumn]] = []
    free = list(added)
    for wanted in (Compatibility.SAME, Compatibility.WIDER):
        for old_col in removed:
            if any(old_col is a for a, _ in pairs):
                continue
            match = next((n for n in free if compare(old_col.data_type, n.data_type) == wanted), None)
            if match is not None:
                pairs.append((old_col, match))
                free.remove(match)
    return sorted(pairs, key=lambda p: removed.index(p[0]))


def _column_removed(pair: _Pair, column: ContractColumn) -> Change:
    was = " (it was deprecated)" if column.deprecated else ""
    return pair.breaking(
        "column_removed",
        column.name,
        f"column '{column.name}' ({column.data_type}) was removed{was}",
        act=f"tell {_consumers(pair.old.model)} to stop reading '{column.name}'",
        keep="keep the column (mark it `deprecated: true` first so consumers get warned)",
    )


def _column_renamed(pair: _Pair, before: ContractColumn, after: ContractColumn) -> Change:
    return pair.breaking(
        "column_renamed",
        before.name,
        f"column '{before.name}' looks renamed to '{after.name}' ({before.data_type} -> {after.data_type})",
        act=f"tell {_consumers(pair.old.model)} to read '{after.name}' instead of '{before.name}'",
        keep=f"keep '{before.name}' next to '{after.name}' (deprecated) until consumers have moved",
    )


# --- one column ---------------------------------------------------------------------------


def _diff_column(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    changes = _diff_type(pair, before, after)
    changes += _diff_not_null(pair, before, after)
    changes += _diff_unique(pair, before, after)
    changes += _diff_accepted_values(pair, before, after)
    changes += _diff_checks(pair, before, after)
    changes += _diff_column_meta(pair, before, after)
    return changes


def _diff_type(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    """Widening is a warning: consumers with fixed-width targets may overflow, most won't."""
    result = compare(before.data_type, after.data_type)
    name, types = before.name, f"{before.data_type} -> {after.data_type}"
    if result == Compatibility.SAME:
        return []
    if result == Compatibility.WIDER:
        return [
            pair.note(
                "type_widened",
                name,
                f"type of '{name}' widened ({types})",
                "warning",
                "check consumers that store it in a fixed-width type",
            )
        ]
    kind, how = ("type_narrowed", "narrowed") if result == Compatibility.NARROWER else ("type_changed", "changed")
    return [
        pair.breaking(
            kind,
            name,
            f"type of '{name}' {how} ({types})",
            act=f"tell {_consumers(pair.old.model)} that '{name}' becomes {after.data_type}",
            keep=f"keep it {before.data_type}",
        )
    ]


def _diff_not_null(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    name = before.name
    if before.has("not_null") and not after.has("not_null"):
        return [_dropped(pair, name, "not_null", f"'{name}' may now be null (not_null dropped)")]
    if after.has("not_null") and not before.has("not_null"):
        return [
            pair.breaking(
                "nullability_tightened",
                name,
                f"'{name}' gained not_null: rows the producer already emits with nulls would violate it",
                act=f"make sure the producer ({pair.old.model.producer}) never writes nulls to '{name}'",
                keep=f"leave '{name}' nullable",
            )
        ]
    return []


def _diff_unique(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    name = before.name
    if before.has("unique") and not after.has("unique"):
        return [_dropped(pair, name, "unique", f"'{name}' may now contain duplicates (unique dropped)")]
    if after.has("unique") and not before.has("unique"):
        return [_added(pair, name, "unique", f"'{name}' gained unique")]
    return []


def _diff_accepted_values(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    """More values breaks consumers (unhandled cases); fewer breaks producers."""
    name, old, new = before.name, _accepted(before), _accepted(after)
    if old is None and new is None:
        return []
    if new is None:
        return [_dropped(pair, name, "accepted_values", f"'{name}' may now hold any value (accepted_values dropped)")]
    if old is None:
        return [_added(pair, name, "accepted_values", f"'{name}' gained accepted_values {_values(new)}")]
    changes = []
    if new - old:
        changes.append(
            pair.breaking(
                "accepted_values_loosened",
                name,
                f"'{name}' accepts new values {_values(new - old)}",
                act=f"tell {_consumers(pair.old.model)} to handle {_values(new - old)}",
                keep=f"keep accepted_values {_values(old)}",
            )
        )
    if old - new:
        changes.append(
            pair.breaking(
                "accepted_values_tightened",
                name,
                f"'{name}' no longer accepts {_values(old - new)}: rows the producer already emits may violate it",
                act=f"make sure the producer ({pair.old.model.producer}) no longer writes {_values(old - new)}",
                keep=f"keep accepted_values {_values(old)}",
            )
        )
    return changes


def _accepted(column: ContractColumn) -> set[str] | None:
    """Values allowed by all accepted_values constraints (compared as text: 1 == '1')."""
    sets = [{str(v) for v in c.values} for c in column.constraints if c.type == "accepted_values"]
    return set.intersection(*sets) if sets else None


def _values(values: set[str]) -> str:
    return "[" + ", ".join(sorted(values)) + "]"


def _diff_checks(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    """A changed check can loosen or tighten; sqlglot can't tell, so it is breaking."""
    old, new = _checks(before), _checks(after)
    gone = [text for key, text in old.items() if key not in new]
    came = [text for key, text in new.items() if key not in old]
    name, changes = before.name, []
    for was, now in zip(gone, came, strict=False):
        changes.append(
            pair.breaking(
                "check_changed",
                name,
                f"check on '{name}' changed from '{was}' to '{now}'",
                act=f"tell {_consumers(pair.old.model)} and make sure the producer ({pair.old.model.producer}) satisfies '{now}'",
                keep=f"keep the check '{was}'",
            )
        )
    changes += [_dropped(pair, name, "check", f"check '{was}' on '{name}' was dropped") for was in gone[len(came) :]]
    changes += [_added(pair, name, "check", f"'{name}' gained check '{now}'") for now in came[len(gone) :]]
    return changes


def _checks(column: ContractColumn) -> dict[str, str]:
    """Normalised SQL -> original text, so whitespace/case edits are not changes."""
    return {
        parse_check_expression(c.expression).sql(dialect=CONTRACT_DIALECT): c.expression
        for c in column.constraints
        if c.type == "check"
    }


def _dropped(pair: _Pair, column: str, constraint: str, detail: str) -> Change:
    return pair.breaking(
        "constraint_dropped",
        column,
        detail,
        act=f"tell {_consumers(pair.old.model)} that '{column}' is no longer guaranteed {constraint}",
        keep=f"keep the {constraint} constraint",
    )


def _added(pair: _Pair, column: str, constraint: str, detail: str) -> Change:
    return pair.breaking(
        "constraint_added",
        column,
        f"{detail}: rows the producer already emits may violate it",
        act=f"make sure the producer ({pair.old.model.producer}) satisfies {constraint} on '{column}'",
        keep=f"put the {constraint} constraint on a new column instead",
    )


def _diff_column_meta(pair: _Pair, before: ContractColumn, after: ContractColumn) -> list[Change]:
    name, changes = before.name, []
    if after.deprecated and not before.deprecated:
        changes.append(
            pair.note(
                "column_deprecated",
                name,
                f"'{name}' is deprecated: still delivered, to be removed in a later major version",
                "warning",
                f"tell {_consumers(pair.old.model)} to stop reading '{name}'",
            )
        )
    if before.deprecated and not after.deprecated:
        changes.append(pair.note("column_undeprecated", name, f"'{name}' is no longer deprecated"))
    if (before.description or "") != (after.description or ""):
        changes.append(pair.note("description_changed", name, f"description of '{name}' changed"))
    return changes


# --- model-level --------------------------------------------------------------------------


def _diff_sla(pair: _Pair) -> list[Change]:
    """A slower (or dropped) freshness SLA breaks consumers scheduled around it; a faster
    one only warns: the producer's schedule has to keep up, no data becomes invalid."""
    old, new = pair.old.model.sla, pair.new.model.sla
    old_age, new_age = (old.max_age if old else None), (new.max_age if new else None)
    old_text, new_text = (old.freshness if old else None), (new.freshness if new else None)
    changes: list[Change] = []
    if old_age is not None and (new_age is None or new_age > old_age):
        now = f"'{new_text}'" if new_text else "no freshness SLA"
        changes.append(
            pair.breaking(
                "sla_loosened",
                None,
                f"freshness SLA loosened from '{old_text}' to {now}",
                act=f"tell {_consumers(pair.old.model)} the data may be older than '{old_text}'",
                keep=f"keep freshness '{old_text}'",
            )
        )
    elif new_age is not None and (old_age is None or new_age < old_age):
        was = f"'{old_text}'" if old_text else "none"
        changes.append(
            pair.note(
                "sla_tightened",
                None,
                f"freshness SLA tightened from {was} to '{new_text}'",
                "warning",
                f"check the producer ({pair.new.model.producer}) runs often enough",
            )
        )
    changes += _diff_availability(pair)
    return changes


def _diff_availability(pair: _Pair) -> list[Change]:
    old, new = pair.old.model.sla, pair.new.model.sla
    old_pct, new_pct = _percent(old.availability if old else None), _percent(new.availability if new else None)
    if old_pct is not None and (new_pct is None or new_pct < old_pct):
        now = f"{new_pct:g}%" if new_pct is not None else "none"
        return [
            pair.breaking(
                "sla_loosened",
                None,
                f"availability SLA lowered from {old_pct:g}% to {now}",
                act=f"tell {_consumers(pair.old.model)} about the lower availability",
                keep=f"keep availability {old_pct:g}%",
            )
        ]
    return []


def _percent(text: str | None) -> float | None:
    return float(text.strip().rstrip("%")) if text else None


def _diff_model_meta(pair: _Pair) -> list[Change]:
    old, new = pair.old.model, pair.new.model
    changes: list[Change] = []
    if old.producer != new.producer:
        changes.append(
            pair.note(
                "producer_changed",
                None,
                f"producer changed from {old.producer} to {new.producer}",
                "warning",
                "check the consumers' source definitions point at the new engine's table",
            )
        )
    if (old.description or "") != (new.description or ""):
        changes.append(pair.note("description_changed", None, "model description changed"))
    if pair.new.major < pair.old.major:
        changes.append(
            pair.note(
                "version_lowered",
                None,
                f"major version went down ({pair.old.major} -> {pair.new.major})",
                "warning",
                "major versions only go up",
            )
        )
    return changes


# --- contract vs live schema ----------------------------------------------------------------


def diff_live_schema(contract: Contract, live_columns: dict[str, str], dialect: str) -> list[Change]:
    """The producer's real columns (name -> type in `dialect`) against its contract. No
    version can allow a mismatch here: the data itself breaks the promise."""
    live = {name.lower(): (name, dtype) for name, dtype in live_columns.items()}
    changes: list[Change] = []
    for column in contract.model.columns:
        found = live.get(column.name.lower())
        if found is None:
            changes.append(
                _live_breaking(
                    contract,
                    "live_column_missing",
                    column.name,
                    f"contract column '{column.name}' ({column.data_type}) is missing from the live table",
                    f"add '{column.name}' to the producer model",
                )
            )
        else:
            changes.extend(_live_type(contract, column, found[1], dialect))
    known = {c.name.lower() for c in contract.model.columns}
    for key, (name, dtype) in live.items():
        if key not in known:
            changes.append(
                Change(
                    contract.model.name,
                    name,
                    "live_column_extra",
                    f"live column '{name}' ({dtype}) is not in the contract",
                    breaking=False,
                    allowed=True,
                    level="info",
                    hint="add it to the contract if consumers may read it",
                )
            )
    return changes


def _live_type(contract: Contract, column: ContractColumn, live_type: str, dialect: str) -> list[Change]:
    try:
        result = compare(column.data_type, live_type, dialect)
    except Exception:  # sqlglot raises several kinds for unreadable types
        result = Compatibility.DIFFERENT
    name, types = column.name, f"contract {column.data_type}, live {live_type}"
    if result == Compatibility.SAME:
        return []
    if result == Compatibility.WIDER:
        return [
            Change(
                contract.model.name,
                name,
                "live_type_widened",
                f"'{name}' is wider live than promised ({types})",
                breaking=False,
                allowed=True,
                level="warning",
                hint="narrow the producer's type or widen the contract in its next version",
            )
        ]
    kind, how = (
        ("live_type_narrowed", "narrower")
        if result == Compatibility.NARROWER
        else ("live_type_changed", "a different type")
    )
    return [
        _live_breaking(
            contract,
            kind,
            name,
            f"'{name}' is {how} live than promised ({types})",
            f"cast '{name}' to {column.data_type} in the producer model",
        )
    ]


def _live_breaking(contract: Contract, kind: str, column: str, detail: str, fix: str) -> Change:
    hint = f"{fix}, or change the contract in a major version bump ({contract.major} -> {contract.major + 1}) and tell {_consumers(contract.model)}"
    return Change(contract.model.name, column, kind, detail, breaking=True, allowed=False, level="breaking", hint=hint)


# --- consumers still reading deprecated columns ---------------------------------------------


def deprecated_reads(contract: Contract, reads: dict[str, set[str]]) -> list[Change]:
    """Warn per consumer and deprecated column it still reads (e.g. from column lineage),
    so the column can be removed in the next major version without surprises."""
    changes = []
    for consumer in sorted(reads):
        for name in sorted(reads[consumer], key=str.lower):
            column = contract.model.column(name)
            if column is not None and column.deprecated:
                changes.append(
                    Change(
                        contract.model.name,
                        column.name,
                        "deprecated_column_read",
                        f"consumer '{consumer}' still reads deprecated column '{column.name}' of {contract.model.name}",
                        breaking=False,
                        allowed=True,
                        level="warning",
                        hint=f"move '{consumer}' off '{column.name}' before it is removed (contract major {contract.major + 1})",
                    )
                )
    return changes


# --- folders ------------------------------------------------------------------------------


def diff_dirs(old_dir: Path, new_dir: Path) -> EvolutionReport:
    """Diff two contract folders (e.g. the base branch's and the working tree's).
    Raises DualEngineConfigError with every invalid file, since a half-loaded folder
    would report its unreadable models as removed; and for a base folder that is missing,
    a file, or holds no contract file at all (every contract would look new)."""
    issues = [
        issue for issue in (_folder_issue(old_dir, "base"), _folder_issue(new_dir, "project's")) if issue is not None
    ]
    if issues:
        raise DualEngineConfigError(issues)
    old, old_issues = load_contracts(old_dir)
    new, new_issues = load_contracts(new_dir)
    issues += old_issues + new_issues
    if issues:
        raise DualEngineConfigError(issues)
    return diff_contracts(old, new)


def _folder_issue(folder: Path, role: str) -> ConfigIssue | None:
    fix = "pass the folder holding the contract *.yml files (e.g. a checkout of the deployed shared/schemas)"
    if folder.is_file():
        return ConfigIssue(folder, "", f"the {role} contract folder is a file, not a folder", fix)
    if not folder.is_dir():
        return ConfigIssue(folder, "", f"the {role} contract folder does not exist", fix)
    if role == "base" and not any(p.is_file() for pattern in ("*.yml", "*.yaml") for p in folder.glob(pattern)):
        return ConfigIssue(
            folder,
            "",
            "the base contract folder holds no contract file (*.yml, *.yaml), so every contract would look new",
            f"{fix}; before contracts were ever deployed, leave out --base",
        )
    return None
