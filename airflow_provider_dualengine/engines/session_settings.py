"""Warehouse session settings (`session:` in config/resources.yml) in each engine's own knob,
and what a session reports back about them.

Plain dicts in, plain values out: which settings apply where is decided above (the
resources layer); this module only knows how each warehouse and engine takes them.

DuckDB (`threads`, `memory_limit`): applied with `SET` on the connections an engine opens,
never as DuckDB's connect-time `config`. In one process DuckDB refuses a second opener of
the same file with a different configuration, and our warehouse hook opens the file first
(plain) so that SQLMesh and dbt join its database; `SET` keeps every opener's
configuration the same. Both engines have a documented field that does exactly this:
SQLMesh's DuckDB connection `connector_config` (SQLMesh runs `SET name = 'value'` for each
entry as it opens a cursor) and dbt-duckdb's profile `settings` (`SET` on each cursor).
`threads` and `memory_limit` belong to the DuckDB database instance: once an engine sets
them, every session of that instance in the process sees them.

PostgreSQL (`work_mem`, `statement_timeout`): server parameters given when a connection
starts, through libpq's `options` (`-c name=value ...`). Neither SQLMesh's postgres
connection config nor dbt-postgres' profile has an `options` field (dbt-postgres builds
`options` from `search_path` only), so the value goes into PGOPTIONS, libpq's default for
`options`, and only into the environment of the engine while it runs (the SQLMesh
Context's block, dbt's invocation): every connection the engine opens then starts with
the settings, and connections opened outside that block do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PGOPTIONS = "PGOPTIONS"
# What a session reports when nothing is configured (and what the configured names are added to).
STANDARD_SETTINGS: dict[str, tuple[str, ...]] = {
    "duckdb": ("threads", "memory_limit"),
    "postgres": ("work_mem", "statement_timeout"),
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
# SQLMesh writes `SET name = '<value>'` without escaping: a quote, a backslash or a control
# character in a value would end the literal.
_UNSAFE_SQL_VALUE = re.compile(r"['\\\x00-\x1f\x7f]")


class SessionSettingError(ValueError):
    """A setting name or value no engine could apply safely."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SessionSettingError(f"'{name}' is not a setting name (letters, digits, '_' and '.')")
    return name


def duckdb_settings(session: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entries of SQLMesh's DuckDB `connector_config` and of dbt-duckdb's profile
    `settings`: the same name -> value pairs, each engine `SET`s them on its cursors."""
    settings: dict[str, Any] = {}
    for name, value in (session or {}).items():
        check_name(name)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise SessionSettingError(f"session.{name}: {value!r} is not a number or a plain string")
        if isinstance(value, str) and _UNSAFE_SQL_VALUE.search(value):
            raise SessionSettingError(f"session.{name}: {value!r} holds a quote, backslash or control character")
        settings[name] = value
    return settings


def libpq_escape(value: str) -> str:
    """One `options` word as libpq reads it: a backslash escapes the next character, so
    backslashes and whitespace inside the value are preceded by one."""
    return re.sub(r"([\\\s])", r"\\\1", value)


def libpq_options(session: Mapping[str, Any] | None) -> str:
    """`-c work_mem=64MB -c statement_timeout=30s`: libpq's `options` / PGOPTIONS value."""
    words = []
    for name, value in (session or {}).items():
        check_name(name)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if not text or "\x00" in text:
            raise SessionSettingError(f"session.{name}: {value!r} is empty or holds a NUL character")
        words.append(f"-c {name}={libpq_escape(text)}")
    return " ".join(words)


def pgoptions_environ(session: Mapping[str, Any] | None, current: str | None = None) -> dict[str, str]:
    """{"PGOPTIONS": ...} for an engine's environment while it runs ({} without settings).
    `current`: PGOPTIONS the process already has; kept first, so ours win on a repeated name
    (the server applies `-c` options in order)."""
    options = libpq_options(session)
    if not options:
        return {}
    return {PGOPTIONS: f"{current.strip()} {options}" if current and current.strip() else options}


def reported_names(warehouse: str, session: Mapping[str, Any] | None) -> list[str]:
    """The settings a session reports: the warehouse's standard ones, then any other configured."""
    names = [*STANDARD_SETTINGS.get(warehouse, ()), *(session or {})]
    return [check_name(n) for n in dict.fromkeys(names)]


def readback_sql(names: Sequence[str]) -> str:
    """One row with the current value of each setting, in the session asking (both
    warehouses have `current_setting`)."""
    if not names:
        raise SessionSettingError("no setting to read back")
    return "SELECT " + ", ".join(f"current_setting('{check_name(n)}')" for n in names)


def read_values(names: Sequence[str], row: Iterable[Any] | None) -> dict[str, str]:
    """{name: value as text} of `readback_sql`'s row."""
    values = list(row or ())
    if len(values) != len(names):
        raise SessionSettingError(f"expected {len(names)} values, the warehouse returned {len(values)}")
    return {name: str(value) for name, value in zip(names, values, strict=True)}


def describe(values: Mapping[str, Any]) -> str:
    """`work_mem=64MB, statement_timeout=30s` (`defaults` when empty)."""
    return ", ".join(f"{name}={value}" for name, value in values.items()) or "defaults"


def session_report(
    *,
    engine: str,
    warehouse: str,
    configured: Mapping[str, Any] | None,
    read_back: Mapping[str, Any] | None,
    parallelism: Mapping[str, Any] | None = None,
    source: str = "",
) -> dict[str, Any]:
    """What an engine task pushes as its `warehouse_session` XCom.

    `settings`: the values read back from the engine's own session when `read_back` holds
    them, else the configured ones; `read_back` says which. `parallelism`: dbt `threads` or
    SQLMesh `concurrent_tasks` as applied; `source`: where the values came from."""
    configured = {k: v for k, v in (configured or {}).items()}
    settings = dict(read_back) if read_back is not None else configured
    return {
        "engine": engine,
        "warehouse": warehouse,
        "settings": settings,
        "read_back": read_back is not None,
        "configured": configured,
        **dict(parallelism or {}),
        "source": source,
    }


def report_line(report: Mapping[str, Any]) -> str:
    """`warehouse session: work_mem=64MB, statement_timeout=30s (read back from the warehouse)`."""
    if not report["read_back"] and not report["settings"]:
        return "warehouse session: nothing configured (the warehouse's defaults)"
    how = "read back from the warehouse" if report["read_back"] else "configured"
    # the engine's own parallelism, named with the engine: DuckDB has a `threads` setting too
    extra = [
        f"{report['engine']} {k}={report[k]}" for k in ("threads", "concurrent_tasks") if report.get(k) is not None
    ]
    where = f"; {', '.join(extra)}" if extra else ""
    source = f"; from {report['source']}" if report.get("source") else ""
    return f"warehouse session: {describe(report['settings'])} ({how}){where}{source}"
