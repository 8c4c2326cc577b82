"""The FastAPI app behind the view, mounted by the api-server at `/dualengine`.

Every route needs an Airflow user (auth.py). Pages never raise on bad project state:
what could not be read is named on the page (a broken config, a missing compile, a busy
warehouse) so an operator sees why, not a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.ui import contracts_page, deployments_page, lineage_page, operations_page
from airflow_provider_dualengine.ui.auth import User, readable_dag_ids, reads_every_dag, visible_rows
from airflow_provider_dualengine.ui.html import empty, page_url, shell
from airflow_provider_dualengine.ui.projects import LoadedProject, ProjectsNotConfigured, load_all
from airflow_provider_dualengine.ui.warehouse_state import WarehouseState, read_state

app = FastAPI(title="Dual engine (SQLMesh + dbt)", docs_url=None, redoc_url=None, openapi_url=None)

Build = Callable[[LoadedProject, list[str], Any], str]


def _choose(project: str | None, owns: Callable[[LoadedProject], bool] | None) -> tuple[LoadedProject, list[str]]:
    """The named project; unnamed: the first one that `owns` what the link points at
    (a model, a contract), else the first configured."""
    loaded = load_all()
    names = [p.name for p in loaded]
    if project is None:
        return next((p for p in loaded if owns is not None and owns(p)), loaded[0]), names
    for candidate in loaded:
        if candidate.name == project:
            return candidate, names
    raise HTTPException(404, f"no project named {project!r}; configured: {', '.join(names)}")


def _page(
    page: str, project: str | None, user: Any, build: Build, owns: Callable[[LoadedProject], bool] | None = None
) -> HTMLResponse:
    try:
        loaded, names = _choose(project, owns)
        return HTMLResponse(build(loaded, names, user))
    except (ProjectsNotConfigured, DualEngineConfigError) as exc:
        return HTMLResponse(shell(page, "Dual engine", empty(str(exc))))


def _warnings(loaded: LoadedProject, state: WarehouseState) -> list[str]:
    found = list(loaded.problems)
    if state.unavailable:
        found.append(f"the warehouse could not be read just now, so run data is missing: {state.unavailable}")
    return found


def _state(loaded: LoadedProject, user: Any, **reads: Any) -> WarehouseState:
    """The page's warehouse data, cut to what this user may see."""
    state = read_state(loaded, **reads)
    dag_ids = readable_dag_ids(user)
    state.history = visible_rows(state.history, dag_ids)
    environments = {
        env.name
        for env in loaded.environments()
        if {loaded.deploy_dag_id(env.name), loaded.rollback_dag_id(env.name)} & dag_ids
    }
    state.deployments = [r for r in state.deployments if r["environment"] in environments]
    if state.alerts and not reads_every_dag(user):
        state.alerts = []
    return state


@app.get("/", include_in_schema=False)
def index(user: User, project: str | None = None) -> RedirectResponse:
    return RedirectResponse(page_url("lineage", project) if project else "lineage", status_code=307)


@app.get("/lineage", response_class=HTMLResponse)
def lineage(user: User, project: str | None = None, model: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who, deployments=False)
        return lineage_page.render(loaded, state.history, names, _warnings(loaded, state))

    return _page("lineage", project, user, build, (lambda p: p.has_model(model)) if model else None)


@app.get("/deployments", response_class=HTMLResponse)
def deployments(user: User, project: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who, history_rows=False)
        return deployments_page.render(loaded, state.deployments, names, _warnings(loaded, state))

    return _page("deployments", project, user, build)


@app.get("/contracts", response_class=HTMLResponse)
def contracts(user: User, project: str | None = None, contract: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who, deployments=False, prod_columns=True)
        return contracts_page.render(loaded, state, names, _warnings(loaded, state))

    return _page("contracts", project, user, build, (lambda p: p.has_contract(contract)) if contract else None)


@app.get("/operations", response_class=HTMLResponse)
def operations(user: User, project: str | None = None) -> HTMLResponse:
    def build(loaded: LoadedProject, names: list[str], who: Any) -> str:
        state = _state(loaded, who, recent_alerts=True)
        return operations_page.render(loaded, state, names, _warnings(loaded, state))

    return _page("operations", project, user, build)
