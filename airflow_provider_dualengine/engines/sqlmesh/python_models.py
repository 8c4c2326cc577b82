"""Fail a SQLMesh Python model clearly when its DataFrame lacks a declared column.

SQLMesh inserts a Python model's DataFrame by selecting the columns declared in
`@model(columns={...})`; a missing one surfaces as an engine error far from its cause
(DuckDB: "Binder Error: Column ... cannot be referenced before it is defined"). SQLMesh
offers no hook on what a model returns, so `install_columns_check()` wraps
`PythonModel.render` once per process: each yielded DataFrame is checked before SQLMesh
writes it, and a mismatch raises `PythonModelColumnsMismatch` naming the model, both
column lists and the likely renames.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

log = logging.getLogger(__name__)

_MARKER = "__dualengine_columns_check__"
_LOCK = threading.Lock()
_LIST_LIMIT = 40  # names shown per list: the outcome keeps 2,000 characters of the message


class PythonModelColumnsMismatch(ValueError):
    """A Python model returned a DataFrame without some of its declared columns."""

    def __init__(
        self,
        model: str,
        declared: list[str],
        returned: list[str],
        missing: list[str],
        extra: list[str],
        path: str | None = None,
    ):
        self.model, self.declared, self.returned = model, declared, returned
        self.missing, self.extra, self.path = missing, extra, path
        super().__init__(mismatch_message(model, declared, returned, missing, extra, path))


def normalized(name: str, dialect: str | None) -> str:
    """The comparison key of a column name: normalized as SQLMesh does for the model's
    dialect (see `render_seed`), then case-folded so `Tier` and `tier` are one column."""
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        name = normalize_identifiers(name, dialect=dialect).name
    except (SqlglotError, ValueError):  # a name sqlglot cannot parse as an identifier
        pass
    return name.casefold()


def compare_columns(
    declared: Iterable[str], returned: Iterable[str], dialect: str | None
) -> tuple[list[str], list[str]]:
    """(declared columns not returned, returned columns not declared), in their own order."""
    declared, returned = list(declared), list(returned)
    declared_keys = {normalized(c, dialect) for c in declared}
    returned_keys = {normalized(c, dialect) for c in returned}
    missing = [c for c in declared if normalized(c, dialect) not in returned_keys]
    extra = [c for c in returned if normalized(c, dialect) not in declared_keys]
    return missing, extra


def _similarity(missing: str, returned: str) -> float:
    """0..1; a name inside the other (`tier` for `customer_tier`) counts as similar, which
    difflib's ratio alone (0.47 there) would miss."""
    a, b = missing.casefold(), returned.casefold()
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    shorter, longer = sorted((a.strip("_"), b.strip("_")), key=len)
    return max(ratio, 0.6) if len(shorter) >= 3 and shorter in longer else ratio


def rename_hints(missing: list[str], extra: list[str], cutoff: float = 0.6) -> dict[str, str]:
    """Missing column -> the extra returned column that looks like it (a likely rename);
    each returned column is suggested once, to the missing column it resembles most."""
    scored = sorted(
        ((_similarity(m, e), i, m, e) for i, m in enumerate(missing) for e in extra),
        key=lambda item: (-item[0], item[1]),
    )
    hints: dict[str, str] = {}
    for score, _, column, candidate in scored:
        if score >= cutoff and column not in hints and candidate not in hints.values():
            hints[column] = candidate
    return hints


def _names(columns: list[str]) -> str:
    shown = ", ".join(columns[:_LIST_LIMIT]) or "(none)"
    more = len(columns) - _LIST_LIMIT
    return f"{shown}, ... and {more} more" if more > 0 else shown


def mismatch_message(
    model: str, declared: list[str], returned: list[str], missing: list[str], extra: list[str], path: str | None = None
) -> str:
    """What is missing first (the outcome keeps the head of long messages), then the lists and the fix."""
    hints = rename_hints(missing, extra)
    missing_part = "; ".join(
        f"missing `{c}`; returned column `{hints[c]}` looks like it" if c in hints else f"missing `{c}`"
        for c in missing
    )
    lines = [
        f"Python model {model} returned a DataFrame without declared column(s): {missing_part}.",
        f"  declared in @model(columns=...): {_names(declared)}",
        f"  returned by the DataFrame: {_names(returned)}",
    ]
    if extra:
        lines.append(f"  returned but not declared (SQLMesh ignores them): {_names(extra)}")
    lines.append(
        f"Fix{f' in {path}' if path else ''}: make {model}'s DataFrame return every declared column (add or "
        "rename it), or change `columns=` in its @model(...) to what it returns. Nothing was written to the model's table."
    )
    return "\n".join(lines)


def declared_columns(model: Any) -> list[str] | None:
    """The columns a model's DataFrame must hold; None when it declares none. Columns SQLMesh
    adds itself (SCD type 2 `valid_from`/`valid_to`) are not expected from the DataFrame."""
    columns = getattr(model, "columns_to_types", None)
    if not columns:
        return None
    managed = getattr(model, "managed_columns", None) or {}
    return [c for c in columns if c not in managed]


def returned_columns(frame: Any) -> list[str] | None:
    """Column names of a DataFrame-like object (pandas, polars, PySpark...); None for
    anything else, e.g. the SQL expression a Python model may yield instead."""
    columns = getattr(frame, "columns", None)
    if columns is None or callable(columns) or isinstance(columns, str | bytes):
        return None
    try:
        return [str(c) for c in columns]
    except TypeError:
        return None


def check_returned_columns(model: Any, frame: Any) -> None:
    """Raise PythonModelColumnsMismatch when `frame` lacks a column `model` declares.

    Extra columns alone pass (SQLMesh drops them). A frame without any column is left to
    SQLMesh, whose empty-DataFrame error says to `yield from ()`."""
    declared = declared_columns(model)
    returned = returned_columns(frame)
    if not declared or not returned:
        return
    missing, extra = compare_columns(declared, returned, getattr(model, "dialect", None))
    if missing:
        path = getattr(model, "_path", None)
        name = str(getattr(model, "name", "?"))
        raise PythonModelColumnsMismatch(name, declared, returned, missing, extra, str(path) if path else None)


def _checked(render: Callable[..., Generator[Any, None, None]]) -> Callable[..., Generator[Any, None, None]]:
    @functools.wraps(render)
    def checked_render(self: Any, *args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        frames = render(self, *args, **kwargs)
        try:
            for frame in frames:
                check_returned_columns(self, frame)
                yield frame
        finally:
            frames.close()  # stop the model's own generator when the check fails

    setattr(checked_render, _MARKER, True)
    return checked_render


def install_columns_check() -> bool:
    """Wrap `PythonModel.render` with the column check, once per process (thread-safe).

    Returns whether the check is installed; False when this SQLMesh version has no
    generator `PythonModel.render` to wrap (then SQLMesh behaves as before)."""
    try:
        from sqlmesh.core.model import definition
    except ImportError:
        return False
    model_class: Any = getattr(definition, "PythonModel", None)
    with _LOCK:
        render = getattr(model_class, "render", None) if model_class is not None else None
        if render is None:
            return False
        if getattr(render, _MARKER, False):
            return True
        if not inspect.isgeneratorfunction(render):
            log.info("PythonModel.render is not a generator in this SQLMesh version: columns check not installed")
            return False
        model_class.render = _checked(render)
        return True
