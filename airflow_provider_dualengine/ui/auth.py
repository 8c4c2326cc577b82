"""Who is asking: every endpoint of the view needs an authenticated Airflow user.

The user comes from Airflow's own dependency (JWT in the Authorization header, else the
`_token` cookie the Airflow UI sets at login, which is what an iframe sends), so the view
accepts exactly what Airflow's REST API accepts: no token -> 401, a bad token -> 403.
DAG data (run statuses, task links) is shown only for DAGs the auth manager lets the
user read.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends

User = Annotated[Any, Depends(get_user)]


def readable_dag_ids(user: Any) -> set[str]:
    """DAG ids the user may read, as the cluster's auth manager decides."""
    from airflow.api_fastapi.app import get_auth_manager

    return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def visible_rows(rows: list[dict[str, Any]], dag_ids: set[str]) -> list[dict[str, Any]]:
    """History rows of DAGs the user may read."""
    return [row for row in rows if row.get("dag_id") in dag_ids]
