"""The lineage page: every model of both engines, grouped by stage, coloured by engine,
cross-engine edges dashed; click a model for its panel (engine, kind, owner, columns and
the columns it reads from each input, contracts, latest run per environment with a link
to that task instance); search by name; `?model=engine:name` opens a model's panel."""

from __future__ import annotations

from typing import Any

from airflow_provider_dualengine.compiled.edges import node_id
from airflow_provider_dualengine.graph.build import output_columns
from airflow_provider_dualengine.ui.html import ENGINE_COLOURS, esc, notice, shell, task_url
from airflow_provider_dualengine.ui.lineage_layout import NODE_H, NODE_W, Layout, layout
from airflow_provider_dualengine.ui.projects import LoadedProject
from airflow_provider_dualengine.ui.warehouse_state import latest_runs

LABEL_CHARS = 30


def lineage_data(loaded: LoadedProject, history: list[dict[str, Any]]) -> tuple[dict[str, Any], Layout]:
    graph = loaded.graph.models_graph
    placement = loaded.graph.placement()
    ids = {key: node_id(key) for key in graph.nodes}
    edges = [
        (ids[e.upstream], ids[e.downstream], e.cross_engine)
        for e in graph.edges
        if e.upstream in ids and e.downstream in ids
    ]
    stage_of = {ids[k]: placement[k] for k in graph.nodes if k in placement}
    picture = layout(list(ids.values()), [(u, d) for u, d, _ in edges], stage_of, list(loaded.graph.stages))
    runs: dict[str, list[dict[str, Any]]] = {}
    for (engine, model, environment), row in sorted(latest_runs(history).items()):
        runs.setdefault(f"{engine}:{model}", []).append(
            {
                "env": environment,
                "status": row["status"],
                "at": row["started_at"].isoformat(timespec="seconds") if row["started_at"] else None,
                "s": row["duration_s"],
                "rows": row["rows"],
                "link": task_url(row["dag_id"], row["run_id"], row["task_id"]),
                "task": f"{row['dag_id']} / {row['task_id']}",
            }
        )
    produced = {f"{c.model.producer}:{c.model.name}": c.model.name for c in loaded.contracts}
    upstream: dict[str, list[str]] = {}
    downstream: dict[str, list[str]] = {}
    for u, d, _ in edges:
        upstream.setdefault(d, []).append(u)
        downstream.setdefault(u, []).append(d)
    models: dict[str, Any] = {}
    for key, node in graph.nodes.items():
        ident = ids[key]
        catalog = loaded.models.get(key)
        columns = output_columns(catalog) if catalog else tuple(node.columns.items())
        reads = upstream.get(ident, [])
        models[ident] = {
            "e": key[0].value,
            "n": key[1],
            "k": node.kind,
            "s": stage_of.get(ident),
            "o": catalog.owner if catalog else None,
            "c": [list(c) for c in columns],
            "cr": {k: list(v) for k, v in (catalog.columns_read or {}).items()} if catalog else {},
            "up": reads,
            "dn": downstream.get(ident, []),
            "pc": produced.get(ident),
            "rc": sorted({produced[u] for u in reads if u in produced}),
            "runs": runs.get(ident, []),
        }
    data = {"models": models, "edges": [[u, d, int(x)] for u, d, x in edges], "project": loaded.name}
    return data, picture


def svg(data: dict[str, Any], picture: Layout) -> str:
    parts = [
        f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{picture.width:.0f}" height="{picture.height:.0f}">'
    ]
    for band in picture.stages:
        parts.append(
            f'<g class="stage"><rect x="{band.x:.0f}" y="4" width="{band.width:.0f}" height="{picture.height - 8:.0f}" rx="8"/>'
            f'<text x="{band.x + 8:.0f}" y="24">{esc(band.name)}</text></g>'
        )
    boxes = picture.boxes
    parts.append('<g id="edges">')
    for u, d, cross in data["edges"]:
        a, b = boxes[u], boxes[d]
        x1, y1, x2, y2 = a.x + NODE_W, a.y + NODE_H / 2, b.x, b.y + NODE_H / 2
        bend = max(abs(x2 - x1) / 2, 30)
        parts.append(
            f'<path class="{"x" if cross else "e"}" data-u="{esc(u)}" data-d="{esc(d)}" '
            f'd="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"/>'
        )
    parts.append('</g><g id="nodes">')
    for ident, model in data["models"].items():
        box = boxes[ident]
        label = model["n"] if len(model["n"]) <= LABEL_CHARS else model["n"][: LABEL_CHARS - 1] + "…"
        newest = max(model["runs"], key=lambda r: r["at"] or "", default=None)  # any environment
        status = newest["status"] if newest else ""
        parts.append(
            f'<g class="n {esc(model["e"])}" data-k="{esc(ident)}" transform="translate({box.x:.0f},{box.y:.0f})">'
            f'<title>{esc(ident)}</title><rect width="{NODE_W}" height="{NODE_H}" rx="5"/>'
            f'<circle class="st {esc(status)}" cx="{NODE_W - 10}" cy="{NODE_H / 2:.0f}" r="4"/>'
            f'<text x="8" y="15">{esc(label)}</text></g>'
        )
    parts.append("</g></svg>")
    return "".join(parts)


def render(loaded: LoadedProject, history: list[dict[str, Any]], projects: list[str], warnings: list[str]) -> str:
    data, picture = lineage_data(loaded, history)
    counts = {e: sum(1 for m in data["models"].values() if m["e"] == e) for e in ("sqlmesh", "dbt")}
    cross = sum(1 for e in data["edges"] if e[2])
    summary = (
        f'<div class="bar"><h1>Lineage of {esc(loaded.name)}</h1>'
        f'<span id="counts"><b id="count-sqlmesh">{counts["sqlmesh"]}</b> SQLMesh · <b id="count-dbt">{counts["dbt"]}</b> dbt models · '
        f'<b id="count-cross">{cross}</b> cross-engine edges</span>'
        '<input id="search" type="search" placeholder="Search models (name, engine:name)" autocomplete="off">'
        '<span id="hits" class="muted"></span>'
        '<span class="legend"><i class="sq sqlmesh"></i>SQLMesh <i class="sq dbt"></i>dbt <i class="ln"></i>cross-engine</span></div>'
    )
    body = (
        "".join(notice(w) for w in warnings)
        + summary
        + f'<div id="wrap"><div id="canvas">{svg(data, picture)}</div><aside id="panel" hidden></aside></div>'
    )
    return shell(
        "lineage",
        f"Lineage · {loaded.name}",
        body,
        project=loaded.name,
        projects=projects,
        extra_css=CSS,
        script=SCRIPT,
        data=data,
    )


CSS = f"""
.bar{{display:flex;align-items:center;gap:14px;flex-wrap:wrap;margin-bottom:8px}}.bar h1{{margin:0}}
#search{{padding:5px 8px;border:1px solid #cbd5e1;border-radius:6px;width:280px}}
.legend{{color:#475569;font-size:12px}}.sq{{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 3px 0 8px}}
.sq.sqlmesh{{background:{ENGINE_COLOURS["sqlmesh"]}}}.sq.dbt{{background:{ENGINE_COLOURS["dbt"]}}}
.ln{{display:inline-block;width:22px;border-top:2px dashed #0f172a;margin:0 3px 3px 8px}}
#wrap{{display:flex;gap:12px;align-items:flex-start}}#canvas{{flex:1;overflow:auto;max-height:calc(100vh - 120px);background:#fff;border:1px solid #e2e8f0;border-radius:8px}}
.stage rect{{fill:#f8fafc;stroke:#e2e8f0}}.stage text{{font-size:12px;fill:#64748b;font-weight:600}}
path{{fill:none;stroke:#cbd5e1;stroke-width:1}}path.x{{stroke:#0f172a;stroke-dasharray:5 3;stroke-width:1.4}}
path.hl{{stroke:#2563eb;stroke-width:2.2}}
.n{{cursor:pointer}}.n rect{{stroke-width:1.2}}.n text{{font-size:12px;fill:#fff;pointer-events:none}}
.n.sqlmesh rect{{fill:{ENGINE_COLOURS["sqlmesh"]};stroke:#5b21b6}}.n.dbt rect{{fill:{ENGINE_COLOURS["dbt"]};stroke:#c2410c}}
.n .st{{fill:transparent}}.n .st.success{{fill:#bbf7d0}}.n .st.failed{{fill:#fecaca;stroke:#7f1d1d}}.n .st.skipped{{fill:#e2e8f0}}
.n.sel rect{{stroke:#0f172a;stroke-width:3}}.n.hit rect{{stroke:#facc15;stroke-width:3}}.dim{{opacity:.18}}
#panel{{width:380px;background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:12px;max-height:calc(100vh - 120px);overflow:auto}}
#panel h2{{margin:0 0 6px;font-size:15px;word-break:break-all}}#panel h3{{font-size:13px;margin:12px 0 4px;color:#475569}}
#panel table td,#panel table th{{font-size:12px;padding:3px 6px}}#panel ul{{margin:0;padding-left:18px}}
"""

SCRIPT = r"""
(function(){
var d=pageData(),M=d.models,svgEl=document.getElementById('graph'),panel=document.getElementById('panel');
var nodes={};svgEl.querySelectorAll('g.n').forEach(function(g){nodes[g.getAttribute('data-k')]=g});
var paths=svgEl.querySelectorAll('#edges path');
function h(t){return String(t==null?'':t).replace(/[&<>"']/g,function(c){return{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]})}
function badge(e){return '<span class="badge" style="background:'+(e==='sqlmesh'?'#7c3aed':e==='dbt'?'#f97316':'#64748b')+'">'+h(e)+'</span>'}
function st(s){var c={success:'#16a34a',failed:'#dc2626',skipped:'#94a3b8'}[s]||'#64748b';return '<span class="badge" style="background:'+c+'">'+h(s)+'</span>'}
function mlink(k){return '<a href="#" data-go="'+h(k)+'">'+h(k)+'</a>'}
var selected=null;
function select(k,scroll){var m=M[k];if(!m)return;
 if(selected&&nodes[selected])nodes[selected].classList.remove('sel');selected=k;nodes[k].classList.add('sel');
 paths.forEach(function(p){var on=p.getAttribute('data-u')===k||p.getAttribute('data-d')===k;p.classList.toggle('hl',on)});
 var html='<h2 id="panel-title">'+h(k)+'</h2><div>'+badge(m.e)+' <span class="mono">'+h(m.k||'')+'</span></div>';
 html+='<table><tr><th>stage</th><td id="panel-stage">'+h(m.s||'not in a stage')+'</td></tr><tr><th>owner</th><td id="panel-owner">'+h(m.o||'—')+'</td></tr></table>';
 html+='<h3>Latest run per environment</h3>';
 html+=m.runs.length?'<table id="panel-runs"><tr><th>environment</th><th>status</th><th>started</th><th>s</th><th>rows</th></tr>'+m.runs.map(function(r){
   return '<tr><td>'+h(r.env)+'</td><td><a class="af" href="'+h(r.link)+'" title="'+h(r.task)+'">'+st(r.status)+'</a></td><td>'+h(r.at||'')+'</td><td>'+h(r.s==null?'':r.s.toFixed(1))+'</td><td>'+h(r.rows==null?'':r.rows)+'</td></tr>'}).join('')+'</table>':'<div class="muted" id="panel-runs">no run recorded yet</div>';
 html+='<h3>Columns ('+m.c.length+')</h3>'+(m.c.length?'<table id="panel-columns">'+m.c.map(function(c){return '<tr><td class="mono">'+h(c[0])+'</td><td class="muted">'+h(c[1]||'?')+'</td></tr>'}).join('')+'</table>':'<div class="muted">unknown</div>');
 var cr=Object.keys(m.cr);
 html+='<h3>Columns read from each input</h3>'+(cr.length?'<ul>'+cr.map(function(i){return '<li>'+h(i)+': <span class="mono">'+h(m.cr[i].join(', '))+'</span></li>'}).join('')+'</ul>':'<div class="muted">not known</div>');
 html+='<h3>Contracts</h3>';var cs=[];if(m.pc)cs.push('produces <a href="contracts?project='+encodeURIComponent(d.project)+'#c-'+h(m.pc)+'">'+h(m.pc)+'</a>');
 m.rc.forEach(function(c){cs.push('reads <a href="contracts?project='+encodeURIComponent(d.project)+'#c-'+h(c)+'">'+h(c)+'</a>')});
 html+=cs.length?'<ul id="panel-contracts"><li>'+cs.join('</li><li>')+'</li></ul>':'<div class="muted" id="panel-contracts">none</div>';
 html+='<h3>Upstream ('+m.up.length+')</h3><ul>'+m.up.map(function(u){return '<li>'+mlink(u)+(M[u]&&M[u].e!==m.e?' <b>cross-engine</b>':'')+'</li>'}).join('')+'</ul>';
 html+='<h3>Downstream ('+m.dn.length+')</h3><ul>'+m.dn.map(function(u){return '<li>'+mlink(u)+(M[u]&&M[u].e!==m.e?' <b>cross-engine</b>':'')+'</li>'}).join('')+'</ul>';
 panel.innerHTML=html;panel.hidden=false;
 if(scroll){var b=nodes[k].getBoundingClientRect(),c=document.getElementById('canvas'),cb=c.getBoundingClientRect();c.scrollLeft+=b.left-cb.left-c.clientWidth/3;c.scrollTop+=b.top-cb.top-c.clientHeight/3}
 var u=new URL(location.href);u.searchParams.set('model',k);history.replaceState(null,'',u.toString());
}
svgEl.addEventListener('click',function(ev){var g=ev.target.closest('g.n');if(g)select(g.getAttribute('data-k'),false)});
panel.addEventListener('click',function(ev){var a=ev.target.closest('a[data-go]');if(a){ev.preventDefault();select(a.getAttribute('data-go'),true)}});
var search=document.getElementById('search'),hits=document.getElementById('hits');
search.addEventListener('input',function(){var q=search.value.trim().toLowerCase(),n=0,first=null;
 Object.keys(nodes).forEach(function(k){var on=q&&k.toLowerCase().indexOf(q)>=0;nodes[k].classList.toggle('hit',!!on);nodes[k].classList.toggle('dim',!!q&&!on);if(on){n++;first=first||k}});
 paths.forEach(function(p){p.classList.toggle('dim',!!q)});
 hits.textContent=q?n+' match'+(n===1?'':'es'):'';if(first&&n<=50){var b=nodes[first].getBoundingClientRect(),c=document.getElementById('canvas'),cb=c.getBoundingClientRect();c.scrollLeft+=b.left-cb.left-40;c.scrollTop+=b.top-cb.top-40}});
search.addEventListener('keydown',function(ev){if(ev.key==='Enter'){var f=Object.keys(nodes).filter(function(k){return nodes[k].classList.contains('hit')})[0];if(f)select(f,true)}});
var want=new URL(location.href).searchParams.get('model');if(want&&M[want])select(want,true);
window.__readyAt=performance.now();document.body.setAttribute('data-ready','1');
})();
"""
