"""Operator extra links from a task to its model or contract in the dual-engine view.

The worker computes each link when the task finishes (Airflow stores it as XCom). The
URL is a path on the Airflow host: `[api] base_url`'s path (a proxy prefix, if any) +
`dualengine/...`, so it opens the view of the same Airflow the user is looking at.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.sdk import BaseOperatorLink

VIEW = "dualengine"


def view_url(page: str, fragment: str = "", **params: str) -> str:
    from airflow.configuration import conf

    base = urlsplit(conf.get("api", "base_url", fallback="") or "/").path or "/"
    url = f"{base.rstrip('/')}/{VIEW}/{page}"
    if params:
        url += "?" + urlencode(params)
    return url + (f"#{fragment}" if fragment else "")


class ModelLineageLink(BaseOperatorLink):
    """The task's model in the lineage page (its panel: columns, contracts, latest runs)."""

    name = "Model lineage (SQLMesh + dbt)"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        engine = getattr(operator, "dualengine_engine", "")
        model = getattr(operator, "model", "")
        return view_url("lineage", model=f"{engine}:{model}") if engine and model else ""


class ContractLink(BaseOperatorLink):
    """The checked contract in the contracts page."""

    name = "Data contract"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        name = (getattr(operator, "contract", None) or {}).get("name", "")
        return view_url("contracts", fragment=f"c-{quote(name)}", contract=name) if name else ""
