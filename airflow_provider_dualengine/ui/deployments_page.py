"""The deployments page: per environment, every deployment record (both engines'
versions, per-stage outcomes, failure point, what was undone, promotion window,
checksums verified), and a rollback action that triggers the environment's rollback DAG
through Airflow's REST API in the user's browser, so it runs with the user's own
permissions (a user who may not trigger that DAG gets Airflow's 403, shown as is)."""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.ui.html import airflow_link, badge, dag_url, empty, esc, notice, shell, table, when
from airflow_provider_dualengine.ui.projects import LoadedProject


def _stages(record: dict[str, Any]) -> str:
    return (
        '<div class="chips">'
        + "".join(
            f'<span title="{esc(s.get("message"))}">{esc(s.get("stage"))}: {esc(s.get("outcome"))}</span>'
            for s in record.get("stages") or []
        )
        + "</div>"
    )


def _rollback(details: dict[str, Any]) -> str:
    plan = details.get("rollback")
    if not isinstance(plan, dict):
        return "—"
    steps = "".join(
        f"<li>{esc(s.get('undo'))} {esc(s.get('target'))}: {esc(s.get('action'))} ({esc(s.get('outcome'))})</li>"
        for s in plan.get("steps") or []
    )
    return f"failure point <b>{esc(plan.get('failure_point'))}</b><ul>{steps}</ul>"


def _checksums(details: dict[str, Any]) -> str:
    summary = str(details.get("summary") or "")
    if "verified identical" in summary:
        return '<span class="ok-text">verified identical</span>'
    if "DIFFERS" in summary:
        return '<b class="err-text">prod differs from before</b>'
    saved = details.get("checksums_before")
    return esc(f"{len(saved)} tables saved") if isinstance(saved, dict) and saved else "—"


def _row(record: dict[str, Any]) -> list[str]:
    details = record["details"] if isinstance(record["details"], dict) else {}
    window = details.get("promotion_seconds")
    return [
        f'<span class="mono dep-id">{esc(record["id"])}</span>',
        f'<span class="dep-status">{badge(record["status"])}</span>',
        when(record["started_at"]) + "<br>" + when(record["finished_at"]),
        esc(record["triggered_by"]),
        f'<span class="mono">{esc(record["sqlmesh_version"] or "—")}</span><br><span class="mono">{esc(record["dbt_version"] or "—")}</span>',
        _stages(record),
        f"{window:.3f} s" if isinstance(window, int | float) else "—",
        _rollback(details),
        _checksums(details),
        esc(details.get("summary") or ""),
    ]


HEADERS = (
    "id",
    "status",
    "started / finished",
    "by",
    "SQLMesh / dbt version",
    "stages",
    "promotion window",
    "rollback",
    "checksums",
    "summary",
)


def render(loaded: LoadedProject, deployments: list[dict[str, Any]], projects: list[str], warnings: list[str]) -> str:
    sections = ["".join(notice(w) for w in warnings), f"<h1>Deployments of {esc(loaded.name)}</h1>"]
    for env in loaded.environments():
        mine = [r for r in deployments if r["environment"] == env.name]
        dag_id = loaded.rollback_dag_id(env.name)
        last = next((r for r in mine if r["status"] == "succeeded"), None)
        action = (
            f'<div class="rollback" data-dag="{esc(dag_id)}" data-env="{esc(env.name)}">'
            f'<button class="arm">Roll back {esc(env.name)}…</button>'
            f'<span class="confirm" hidden>Return both engines of {esc(env.name)} to before its last successful deployment '
            f'(now <b class="mono">{esc(last["id"])}</b>; the rollback DAG decides when it runs)? '
            f'<button class="danger go">Trigger {esc(dag_id)}</button> <button class="cancel">Cancel</button></span>'
            f'<span class="result"></span> <span class="muted">runs DAG {airflow_link(dag_url(dag_id), dag_id)} as you</span></div>'
            if last is not None
            else ""
        )
        body = (
            table(HEADERS, [_row(r) for r in mine], ident=f"deployments-{env.name}")
            if mine
            else empty(f"no deployment of {env.name} recorded yet")
        )
        sections.append(f'<section id="env-{esc(env.name)}"><h2>{esc(env.name)}</h2>{action}{body}</section>')
    return shell(
        "deployments",
        f"Deployments · {loaded.name}",
        "".join(sections),
        project=loaded.name,
        projects=projects,
        extra_css=CSS,
        script=SCRIPT,
    )


CSS = ".rollback{margin:6px 0 10px}.result{margin-left:8px;font-weight:600}.ok-text{color:#166534}.err-text{color:#991b1b}"

# POST /api/v2/dags/{id}/dagRuns relative to this page (<airflow>/dualengine/deployments):
# the browser sends the user's own Airflow session, so Airflow decides whether they may.
SCRIPT = r"""
document.querySelectorAll('.rollback').forEach(function(box){
 var arm=box.querySelector('.arm'),confirmEl=box.querySelector('.confirm'),out=box.querySelector('.result');
 arm.onclick=function(){confirmEl.hidden=false;arm.hidden=true};
 box.querySelector('.cancel').onclick=function(){confirmEl.hidden=true;arm.hidden=false};
 box.querySelector('.go').onclick=function(){
  var dag=box.getAttribute('data-dag');out.textContent='triggering…';out.className='result';
  fetch('../api/v2/dags/'+encodeURIComponent(dag)+'/dagRuns',{method:'POST',credentials:'same-origin',
    headers:{'Content-Type':'application/json'},body:JSON.stringify({logical_date:null,note:'rollback from the dual-engine view'})})
  .then(function(r){return r.json().then(function(b){return [r.status,b]},function(){return [r.status,{}]})})
  .then(function(x){var s=x[0],b=x[1];confirmEl.hidden=true;arm.hidden=false;
    if(s===200||s===201){out.textContent='rollback run '+b.dag_run_id+' '+b.state;out.className='result ok-text';out.setAttribute('data-run-id',b.dag_run_id)}
    else{out.textContent='Airflow refused ('+s+'): '+(typeof b.detail==='string'?b.detail:JSON.stringify(b.detail||b));out.className='result err-text'}})
  .catch(function(e){out.textContent='request failed: '+e;out.className='result err-text'})};
});
"""
