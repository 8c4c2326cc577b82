"""Remove credentials from text that leaves our hands: error messages, logs, records.

Engine and driver errors sometimes quote a connection string (`postgresql://user:pw@host`),
a libpq DSN (`password=pw`) or a config object holding the password. Airflow masks a
connection's password in task logs, but text we store ourselves - deployment records in
the warehouse, CLI output - needs the same care.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"
# scheme://user:password@host  ->  scheme://user:***@host   (also scheme://:password@host)
_URI_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s'\"]*:)(?P<secret>[^@\s'\"]+)(?P<tail>@)")
# password=secret, "password": "secret", password='secret', PGPASSWORD=secret
_KEY_VALUE = re.compile(
    r"(?P<head>(?i:\b(?:pg)?pass(?:word|wd)?|secret|token)\b['\"]?\s*[:=]\s*['\"]?)(?P<secret>[^\s'\",;)}]+)"
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with URI passwords, `password=` values and every given secret replaced by ***
    (also as it appears escaped in a URI, JSON text or a Python repr)."""
    for secret in sorted({form for s in secrets if s and len(s) >= 3 for form in _forms(s)}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URI_PASSWORD.sub(lambda m: m.group("head") + MASK + m.group("tail"), text)
    return _KEY_VALUE.sub(lambda m: m.group("head") + MASK, text)


def _forms(secret: str) -> set[str]:
    """A secret as written plainly and in the escaped forms error texts quote it in."""
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), json.dumps(secret)[1:-1], repr(secret)[1:-1]}


def connection_secrets(conn: object) -> list[str]:
    """The secret parts of an Airflow connection (password, and extras that look secret)."""
    found = [getattr(conn, "password", None) or ""]
    extra = getattr(conn, "extra_dejson", None) or {}
    found += [str(v) for k, v in extra.items() if re.search(r"pass|secret|token|key", str(k), re.IGNORECASE) and v]
    return [s for s in found if s]
