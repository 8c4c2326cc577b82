"""The FastAPI app behind the view, mounted by the api-server at `/dualengine`.

Every route needs an Airflow user (auth.py). Pages never raise on bad project state:
what could not be read is named on the page (a broken config, a missing compile, a busy
warehouse) so an operator sees why, not a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_provider_dualengine.ui import contracts_page, deployments_page, lineage_page, operations_page
from airflow_provider_dualengine.ui.auth import User, readable_dag_ids, visible_rows
from airflow_provider_dualengine.ui.html import empty, shell
from airflow_provider_dualengine.ui.projects import LoadedProject, ProjectsNotConfigured, load_all
from airflow_provider_dualengine.ui.warehouse_state import WarehouseState, read_state

app = FastAPI(title="Dual engine (SQLMesh + dbt)", docs_url=None, redoc_url=None, openapi_url=None)


def _choose(project: str | None) -> tuple[LoadedProject, list[str]]:
    loaded = load_all()
    names = [p.name for p in loaded]
    if project is None:
        return loaded[0], names
    for candidate in loaded:
        if candidate.name == project:
            return candidate, names
    raise HTTPException(404, f"no project named {project!r}; configured: {', '.join(names)}")


def _page(page: str, project: str | None, user: Any, build: Any) -> HTMLResponse:
    from airflow_provider_dualengine.config.errors import DualEngineConfigError

    try:
        loaded, names = _choose(project)
    except (ProjectsNotConfigured, DualEngineConfigError) as exc:
        return HTMLResponse(shell(page, "Dual engine", empty(str(exc))), status_code=200)
    return HTMLResponse(build(loaded, names, user))


def _warnings(loaded: LoadedProject, state: WarehouseState) -> list[str]:
    found = list(loaded.problems)
    if state.unavailable:
        found.append(f"the warehouse could not be read just now, so run data is missing: {state.unavailable}")
    return found


def _state(loaded: LoadedProject, user: Any, **kwargs: Any) -> WarehouseState:
    state = read_state(loaded, **kwargs)
    state.history = visible_rows(state.history, readable_dag_ids(user))
    return state


@app.get("/", include_in_schema=False)
def index(user: User, project: str | None = None) -> RedirectResponse:
    return RedirectResponse("lineage" + (f"?project={project}" if project else ""), status_code=307)


@app.get("/lineage", response_class=HTMLResponse)
def lineage(user: User, project: str | None = None, model: str | None = Query(None)) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who)
        return lineage_page.render(loaded, state.history, names, _warnings(loaded, state))

    return _page("lineage", project, user, build)


@app.get("/deployments", response_class=HTMLResponse)
def deployments(user: User, project: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who)
        return deployments_page.render(loaded, state.deployments, names, _warnings(loaded, state))

    return _page("deployments", project, user, build)


@app.get("/contracts", response_class=HTMLResponse)
def contracts(user: User, project: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who, with_prod_columns=True)
        return contracts_page.render(loaded, state, names, _warnings(loaded, state))

    return _page("contracts", project, user, build)


@app.get("/operations", response_class=HTMLResponse)
def operations(user: User, project: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who)
        return operations_page.render(loaded, state, names, _warnings(loaded, state))

    return _page("operations", project, user, build)
