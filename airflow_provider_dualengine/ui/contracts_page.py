"""The contracts page: each contract with its producer and consumers by engine, its SLA,
the latest run-time check per environment (from the run history, linked to the task),
and the breaking changes pending against prod: the contract compared with the live prod
table's columns, as the deploy's validation compares them."""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.compiled.edges import node_id
from airflow_provider_dualengine.ui.html import (
    airflow_link,
    badge,
    empty,
    engine_badge,
    esc,
    notice,
    shell,
    table,
    task_url,
    when,
)
from airflow_provider_dualengine.ui.projects import LoadedProject
from airflow_provider_dualengine.ui.warehouse_state import WarehouseState, latest_runs


def _consumers(loaded: LoadedProject, producer: str, name: str) -> list[str]:
    graph = loaded.graph.models_graph
    keys = set(graph.matching(f"{producer}:{name}"))
    return sorted({node_id(e.downstream) for e in graph.edges if e.upstream in keys})


def _checks(name: str, checks: dict[tuple[str, str, str], dict[str, Any]]) -> str:
    rows = [row for (_, model, _), row in sorted(checks.items()) if model == name]
    if not rows:
        return '<span class="muted check-none">not checked yet</span>'
    out = []
    for row in rows:
        sla = {True: "SLA met", False: "SLA missed", None: ""}[row.get("sla_met")]
        link = airflow_link(task_url(row["dag_id"], row["run_id"], row["task_id"]), row["task_id"])
        out.append(
            f'<div class="check" data-env="{esc(row["environment"])}" data-status="{esc(row["status"])}">'
            f"{esc(row['environment'])}: {badge(row['status'])} {esc(row['tests_passed'])} passed, {esc(row['tests_failed'])} failed"
            f"{' · ' + esc(sla) if sla else ''} · {when(row['started_at'])} · {link}"
            + (f'<div class="muted">{esc(row["message"])}</div>' if row.get("message") else "")
            + "</div>"
        )
    return "".join(out)


def _pending(loaded: LoadedProject, contract: Any, state: WarehouseState) -> str:
    from airflow_provider_dualengine.contracts.evolution import diff_live_schema

    live = state.prod_columns.get(contract.model.name)
    if state.unavailable:
        return '<span class="muted">warehouse not readable now</span>'
    if live is None:
        return '<span class="muted pending-none">no prod table yet</span>'
    changes = [c for c in diff_live_schema(contract, live, state.dialect) if c.breaking]
    if not changes:
        return '<span class="pending-ok">none: prod matches the contract</span>'
    return '<ul class="pending">' + "".join(f"<li>{esc(c.render())}</li>" for c in changes) + "</ul>"


def render(loaded: LoadedProject, state: WarehouseState, projects: list[str], warnings: list[str]) -> str:
    checks = latest_runs(state.history, "contract_check")
    rows = []
    for contract in sorted(loaded.contracts, key=lambda c: c.model.name):
        model = contract.model
        consumers = _consumers(loaded, model.producer, model.name)
        consumer_cells = "<br>".join(f"{engine_badge(c.split(':', 1)[0])} {esc(c.split(':', 1)[1])}" for c in consumers)
        declared = ", ".join(model.consumers) or "—"
        sla = model.sla
        sla_text = ", ".join(
            part
            for part in (
                f"freshness {sla.freshness}" if sla and sla.freshness else "",
                f"availability {sla.availability}" if sla and sla.availability else "",
            )
            if part
        )
        rows.append(
            [
                f'<a id="c-{esc(model.name)}"></a><b class="mono">{esc(model.name)}</b><br><span class="muted">v{esc(contract.version)} · {len(model.columns)} columns{" · closed" if model.closed else ""}</span>',
                f"{engine_badge(model.producer)}",
                (consumer_cells or '<span class="muted">none in the graph</span>')
                + f'<div class="muted">declared: {esc(declared)}</div>',
                esc(sla_text or "—"),
                _checks(model.name, checks),
                _pending(loaded, contract, state),
            ]
        )
    body = (
        table(
            ("contract", "producer", "consumers (from the graph)", "SLA", "latest run-time check", "breaking vs prod"),
            rows,
            ident="contracts",
        )
        if rows
        else empty(f"no contracts in {loaded.project.contracts_path}")
    )
    heading = f"<h1>Contracts of {esc(loaded.name)}</h1>"
    return shell(
        "contracts",
        f"Contracts · {loaded.name}",
        "".join(notice(w) for w in warnings) + heading + body,
        project=loaded.name,
        projects=projects,
        extra_css=".check{margin-bottom:4px}.pending{margin:0;padding-left:16px;color:#991b1b}.pending-ok{color:#166534}",
    )


__all__ = ["render"]
