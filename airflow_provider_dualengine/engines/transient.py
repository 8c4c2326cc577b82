"""Which warehouse errors are worth retrying: the ones that say nothing about the model.

A retry is only worth its warehouse time when the same work can succeed unchanged a few
seconds later. That holds when the warehouse refused the work for a reason outside it:

- DuckDB ``Could not set lock on file ...: Conflicting lock is held``: DuckDB admits one
  writing process per file; another process (a CLI, a notebook, a task of another run)
  held it for a moment. Once it lets go, the same statement runs.
- PostgreSQL ``could not serialize access ...`` (SQLSTATE 40001) and ``deadlock
  detected`` (40P01): the server aborted this transaction to let a concurrent one
  finish; PostgreSQL's documentation says to retry it as is.
- PostgreSQL connections lost or not made (``server closed the connection
  unexpectedly``, ``connection already closed``, ``could not connect to server``,
  ``connection to server ... failed: Connection refused``, ``terminating connection due to
  administrator command``, ``the database system is starting up``...): a restart,
  failover or network blip, not a property of the SQL. A refused login (wrong password,
  unknown database) is not one of them: it fails the same way every time.

Everything else (a SQL error, a failed test or audit, a broken contract) fails the same
way on every try, so it is not transient. Matching is on the message (drivers wrap each
other's exceptions, dbt and SQLMesh pass on only the text), case-insensitive, on whole
phrases, so "lock" inside "block" or a column named ``deadlock_count`` never matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_TRANSIENT = re.compile(
    "|".join(
        [
            # DuckDB: another process holds the single-writer lock on the database file
            r"\bcould not set lock on file\b",
            r"\bconflicting lock is held\b",
            # PostgreSQL: the server aborted the transaction for a concurrent one
            r"\bcould not serialize access\b",
            r"\bdeadlock detected\b",
            # PostgreSQL: the connection dropped, or could not be made for now
            r"\bserver closed the connection unexpectedly\b",
            r"\bssl connection has been closed unexpectedly\b",
            r"\bcould not receive data from server\b",
            r"\bconnection already closed\b",
            r"\bterminating connection due to administrator command\b",
            r"\bthe database system is (?:starting up|shutting down|in recovery mode|not yet accepting connections)\b",
            r"\bcould not connect to server\b",
            r"\bconnection to server (?:at|on) .{0,200}? failed: (?:connection refused|connection timed out"
            r"|timeout expired|no route to host|network is unreachable|server closed the connection unexpectedly"
            r"|no such file or directory)",
        ]
    ),
    re.IGNORECASE,
)
# A login the server refused fails the same way every time, even when libpq's message for
# another address of the host (localhost: ::1, then 127.0.0.1) says "Connection refused".
_REFUSED_LOGIN = re.compile(
    r"\bpassword authentication failed\b|\bno pg_hba\.conf entry\b|\b(?:database|role) \"[^\"]*\" does not exist\b",
    re.IGNORECASE,
)


def is_transient(error: BaseException | str | None) -> bool:
    """True when the error (or any exception it was raised from) is a warehouse lock,
    serialization, deadlock or connection failure that the same work survives on a retry."""
    return any(_TRANSIENT.search(m) and not _REFUSED_LOGIN.search(m) for m in _messages(error))


def all_transient(errors: Iterable[BaseException | str | None]) -> bool:
    """True when there is at least one error and every one is transient: a retry that
    would repeat a real failure beside a transient one only wastes the warehouse."""
    found = list(errors)
    return bool(found) and all(is_transient(error) for error in found)


def _messages(error: BaseException | str | None) -> Iterable[str]:
    """The error's text, then the text of each exception it was raised from (`raise ...
    from`; cycle-safe). An exception merely raised while handling another is not followed:
    its cause may be anything."""
    if error is None:
        return
    if isinstance(error, str):
        yield error
        return
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield f"{type(current).__name__}: {current}"
        current = current.__cause__
