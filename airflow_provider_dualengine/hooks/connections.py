"""Find an Airflow connection wherever the caller runs: in a task, or in our CLI beside a cluster.

Inside a task (or the DAG processor) Airflow 3's Task SDK asks the API server, which sees
every connection. Outside one - `dualengine deployments`, `rollback`, `contracts diff
--against-prod` run by an operator - the SDK only reads environment variables and
configured secrets backends, not connections created with `airflow connections add` or
in the UI, which live in the metadata DB. So when the SDK does not find a connection and
we are not in a task, the metadata DB of the Airflow configuration this process sees
(`AIRFLOW_HOME` / `AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`) is asked too, as Airflow's own
CLI does. When nothing has it, the error lists every place that was searched.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from airflow_provider_dualengine.engines.connections import WarehouseConnectionNotFound
from airflow_provider_dualengine.engines.redact import redact

DOCUMENTED_DUCKDB = "airflow connections add {conn_id} --conn-type duckdb --conn-host /path/to/warehouse.duckdb"


def get_connection(conn_id: str) -> Any:
    """The Airflow connection `conn_id`; raises WarehouseConnectionNotFound naming where it looked."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    searched = [f"environment variable AIRFLOW_CONN_{conn_id.upper()}", *_secrets_backends()]
    if _in_task_process():
        searched.append("the Airflow API server (this task's execution API)")
    else:
        found, where = _from_metadata_db(conn_id)
        if found is not None:
            return found
        searched.append(where)
    raise WarehouseConnectionNotFound(
        f"Airflow connection '{conn_id}' not found. Looked in: {'; '.join(searched)}.\n"
        f"    fix: create it, e.g. `{DOCUMENTED_DUCKDB.format(conn_id=conn_id)}` (or a postgres connection), "
        "and run this command with the cluster's Airflow configuration (AIRFLOW_HOME or AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) "
        "so it can read the metadata DB"
    )


def _in_task_process() -> bool:
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def _secrets_backends() -> list[str]:
    try:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

        names = [type(b).__name__ for b in ensure_secrets_backend_loaded()]
    except Exception:  # noqa: BLE001 - only used to describe the search
        return []
    return [f"secrets backend {name}" for name in names if name != "EnvironmentVariablesBackend"]


def _from_metadata_db(conn_id: str) -> tuple[Any | None, str]:
    """(connection or None, description of the place searched, without credentials)."""
    try:
        from airflow import settings
        from airflow.secrets.metastore import MetastoreBackend

        url = settings.SQL_ALCHEMY_CONN or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or ""
        where = f"the Airflow metadata DB ({_without_credentials(url) or 'not configured'})"
        return MetastoreBackend().get_connection(conn_id), where
    except Exception as exc:  # noqa: BLE001 - an unreachable DB is reported as a place that failed
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return None, f"the Airflow metadata DB (not readable: {type(exc).__name__}: {redact(first_line)})"


def _without_credentials(url: str) -> str:
    """`postgresql+psycopg2://user:secret@host:5432/airflow` -> `postgresql+psycopg2://host:5432/airflow`."""
    from sqlalchemy.engine import make_url

    if not url:
        return ""
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        return "unparsable URL"
    return parsed._replace(username=None, password=None).render_as_string(hide_password=True)
