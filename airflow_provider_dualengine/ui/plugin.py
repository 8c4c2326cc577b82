"""The Airflow plugin that puts the view in the Airflow UI; registered through the
package's `airflow.plugins` entry point, so installing the wheel is enough.

`fastapi_apps` mounts the app on the api-server; `external_views` add its pages to the
UI's Browse menu (shown in an iframe; relative hrefs, so a proxy prefix keeps working).
Tasks link to it through operator extra links (links/view.py).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_dualengine.resources.priority import DbtWindowPriority, SQLMeshWindowPriority
from airflow_provider_dualengine.resources.timetable import WindowBoundariesTimetable
from airflow_provider_dualengine.ui.app import app

URL_PREFIX = "/dualengine"


class DualEnginePlugin(AirflowPlugin):
    name = "dualengine"
    # The scheduler and the dag-processor resolve these by class path (config/resources.yml windows).
    timetables = [WindowBoundariesTimetable]
    priority_weight_strategies = [SQLMeshWindowPriority, DbtWindowPriority]
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Dual engine (SQLMesh + dbt)"}]
    external_views = [
        {
            "name": "Dual engine",
            "href": "dualengine/lineage",
            "destination": "nav",
            "category": "browse",
            "url_route": "dualengine-lineage",
        },
        {
            "name": "Deployments (SQLMesh + dbt)",
            "href": "dualengine/deployments",
            "destination": "nav",
            "category": "browse",
            "url_route": "dualengine-deployments",
        },
        {
            "name": "Contracts (SQLMesh + dbt)",
            "href": "dualengine/contracts",
            "destination": "nav",
            "category": "browse",
            "url_route": "dualengine-contracts",
        },
        {
            "name": "Cost & alerts (SQLMesh + dbt)",
            "href": "dualengine/operations",
            "destination": "nav",
            "category": "browse",
            "url_route": "dualengine-operations",
        },
    ]
