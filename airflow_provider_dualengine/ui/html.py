"""The page shell every view shares: navigation, styles, escaping, status badges and
links into Airflow's own pages.

Every URL is relative (pages live at `<airflow>/dualengine/<page>`, Airflow's pages at
`<airflow>/...`), so the view works behind a proxy prefix. Inside the Airflow UI the
pages run in a sandboxed iframe that may not navigate the top window; a link into
Airflow therefore asks the parent (same origin) to route to it, and is a plain link
when the page is opened on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_dualengine.monitoring.report_charts import ENGINE_COLOURS, STATUS_COLOURS

PAGES = (
    ("lineage", "Lineage"),
    ("deployments", "Deployments"),
    ("contracts", "Contracts"),
    ("operations", "Cost, performance & alerts"),
)
RUN_COLOURS = {"success": "#16a34a", "failed": "#dc2626", "skipped": "#94a3b8", **STATUS_COLOURS}


def esc(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def page_url(page: str, project: str, **params: str) -> str:
    """Relative URL of one of our pages."""
    return f"{page}?{urlencode({'project': project, **params})}"


def task_url(dag_id: str, run_id: str, task_id: str) -> str:
    """Relative URL of a task instance in Airflow's grid, from one of our pages."""
    return "../dags/{}/runs/{}/tasks/{}".format(*(quote(part, safe="") for part in (dag_id, run_id, task_id)))


def dag_url(dag_id: str) -> str:
    return f"../dags/{quote(dag_id, safe='')}"


def airflow_link(href: str, text: str) -> str:
    return f'<a class="af" href="{esc(href)}">{esc(text)}</a>'


def badge(status: object) -> str:
    colour = RUN_COLOURS.get(str(status), "#64748b")
    return f'<span class="badge" style="background:{colour}">{esc(status)}</span>'


def engine_badge(engine: object) -> str:
    colour = ENGINE_COLOURS.get(str(engine), "#64748b")
    return f'<span class="badge" style="background:{colour}">{esc(engine)}</span>'


def when(moment: object) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return esc(moment or "—")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], ident: str = "") -> str:
    """Cells are HTML already (escape what you put in them)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    id_attr = f' id="{esc(ident)}"' if ident else ""
    return f"<table{id_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def empty(message: str) -> str:
    return f'<div class="empty">{esc(message)}</div>'


def notice(message: str, css: str = "warn") -> str:
    return f'<div class="notice {css}">{esc(message)}</div>'


def shell(
    page: str,
    title: str,
    body: str,
    *,
    project: str | None = None,
    projects: Sequence[str] = (),
    extra_css: str = "",
    script: str = "",
    data: Mapping[str, Any] | None = None,
) -> str:
    """A whole page. `data` is embedded as JSON for `script` (read with `pageData()`)."""
    import json

    nav = "".join(
        f'<a class="tab{" on" if key == page else ""}" href="{esc(page_url(key, project) if project else key)}">{esc(label)}</a>'
        for key, label in PAGES
    )
    picker = ""
    if len(projects) > 1:
        options = "".join(f"<option{' selected' if p == project else ''}>{esc(p)}</option>" for p in projects)
        picker = f'<select id="project" onchange="location.search=\'project=\'+encodeURIComponent(this.value)">{options}</select>'
    payload = ""
    if data is not None:
        text = (
            json.dumps(data, separators=(",", ":"), default=str)
            .replace("&", "\\u0026")
            .replace("<", "\\u003c")
            .replace(">", "\\u003e")
        )
        payload = f'<script type="application/json" id="page-data">{text}</script>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{esc(title)} · dual engine</title><style>{CSS}{extra_css}</style></head>"
        f'<body data-page="{esc(page)}"><header><span class="brand">SQLMesh + dbt</span><nav>{nav}</nav>{picker}</header>'
        f"<main>{body}</main>{payload}<script>{LINK_SCRIPT}{script}</script></body></html>\n"
    )


CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1e293b;background:#f8fafc}
header{display:flex;align-items:center;gap:16px;padding:8px 16px;background:#fff;border-bottom:1px solid #e2e8f0;position:sticky;top:0;z-index:5}
.brand{font-weight:700;background:linear-gradient(90deg,#7c3aed,#f97316);-webkit-background-clip:text;color:transparent}
nav{display:flex;gap:4px}.tab{padding:6px 10px;border-radius:6px;color:#334155;text-decoration:none}.tab.on{background:#e0e7ff;color:#312e81;font-weight:600}
main{padding:16px}h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e2e8f0;margin-bottom:12px}
th,td{padding:6px 8px;border-bottom:1px solid #f1f5f9;text-align:left;vertical-align:top;font-size:13px}th{background:#f8fafc;color:#475569}
.badge{display:inline-block;padding:1px 7px;border-radius:9px;color:#fff;font-size:12px;font-weight:600}
.empty{padding:24px;border:1px dashed #cbd5e1;border-radius:8px;color:#64748b;background:#fff}
.notice{padding:8px 12px;border-radius:6px;margin-bottom:12px}.warn{background:#fef3c7;color:#92400e}.err{background:#fee2e2;color:#991b1b}.ok{background:#dcfce7;color:#166534}
.muted{color:#64748b}.mono{font-family:ui-monospace,Menlo,monospace;font-size:12px}
button{font:inherit;padding:5px 12px;border-radius:6px;border:1px solid #cbd5e1;background:#fff;cursor:pointer}button.danger{background:#dc2626;color:#fff;border-color:#b91c1c}
.chips span{display:inline-block;margin:1px 3px 1px 0;padding:0 6px;border-radius:4px;background:#f1f5f9;font-size:12px}
"""

LINK_SCRIPT = """
function pageData(){var e=document.getElementById('page-data');return e?JSON.parse(e.textContent):null}
document.addEventListener('click',function(ev){var a=ev.target.closest&&ev.target.closest('a.af');if(!a)return;
try{if(window.parent!==window&&window.parent.location.origin===location.origin){ev.preventDefault();
var u=new URL(a.getAttribute('href'),location.href);window.parent.history.pushState(null,'',u.pathname+u.search+u.hash);
window.parent.dispatchEvent(new PopStateEvent('popstate'));}}catch(e){}});
"""
