"""Who is asking: every endpoint of the view needs an authenticated Airflow user.

The user comes from Airflow's own dependency (JWT in the Authorization header, else the
`_token` cookie the Airflow UI sets at login, which is what an iframe sends), so the view
accepts exactly what Airflow's REST API accepts: no token -> 401, a bad token -> 403.
DAG data is shown only where the auth manager lets the user read the DAG behind it: run
history rows by their DAG, an environment's deployment records by its deploy or rollback
DAG (`dualengine_<project>_<environment>_deploy|_rollback`), alerts only to users who may
read every DAG.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """Airflow's own `get_user`, imported when a request comes: every Airflow process loads
    plugins (task processes too, for macros), and Airflow's API security module alone takes
    ~0.4 s to import, which no task should pay for a view only the api-server serves."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, credentials)


User = Annotated[Any, Depends(current_user)]


def readable_dag_ids(user: Any) -> set[str]:
    """DAG ids the user may read, as the cluster's auth manager decides."""
    from airflow.api_fastapi.app import get_auth_manager

    return set(get_auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def visible_rows(rows: list[dict[str, Any]], dag_ids: set[str]) -> list[dict[str, Any]]:
    """History rows of DAGs the user may read."""
    return [row for row in rows if row.get("dag_id") in dag_ids]


def reads_every_dag(user: Any) -> bool:
    """Whether the user may read all DAGs (what alerts need: they name models and runs of
    any DAG, without a DAG id to check)."""
    from airflow.api_fastapi.app import get_auth_manager

    return bool(get_auth_manager().is_authorized_dag(method="GET", user=user))
