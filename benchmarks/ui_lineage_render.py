"""The UI view's lineage page for a large synthetic project, in headless Chromium.

    .venv/bin/python benchmarks/ui_lineage_render.py [--sqlmesh 500] [--dbt 500] [--runs 5]

Generates and compiles the project (benchmarks/generate_project.py), then measures
- server: loading the project for the view (compiled artifact -> graph; cold, then cached
  as the api-server keeps it) and rendering the page (layout + SVG + JSON), median of runs;
- browser: headless Chromium (Debian's chromium, tests/browser.py) loads the rendered page:
  navigation start to the page's script having wired up every node (`data-ready`) and to the
  load event, median of runs; then a click on a model until its panel is filled, and typing
  a search until the matches are highlighted.
Goal (issue 18): the page renders in under 2 s. Writes results/ui_lineage_render.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import BIN, ENV, REPO, timed  # noqa: E402
from generate_project import generate_project  # noqa: E402

READY = "document.body.getAttribute('data-ready') === '1'"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlmesh", type=int, default=500)
    parser.add_argument("--dbt", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in ENV.items() if k.startswith(("SQLMESH", "AIRFLOW__COSMOS"))})
    from tests.browser import chromium_missing, open_browser

    if chromium_missing():
        raise SystemExit(chromium_missing())
    from airflow_provider_dualengine.ui import lineage_page, projects

    work = Path(tempfile.mkdtemp(prefix="dualengine-ui-bench-"))
    try:
        project = work / "project"
        generate_project(project, sqlmesh_models=args.sqlmesh, dbt_models=args.dbt)
        compile_s = timed(
            [str(BIN / "dualengine"), "compile", str(project)],
            REPO,
            {**ENV, "DUALENGINE_DUCKDB_PATH": str(work / "b.duckdb")},
        )
        began = time.perf_counter()
        loaded = projects.load_one(project)
        load_cold_s = time.perf_counter() - began
        cached, render = [], []
        for _ in range(args.runs):
            began = time.perf_counter()
            loaded = projects.load_one(project)
            cached.append(time.perf_counter() - began)
            began = time.perf_counter()
            html = lineage_page.render(loaded, [], [loaded.name], [])
            render.append(time.perf_counter() - began)
        page = work / "lineage.html"
        page.write_text(html)
        models = len(loaded.graph.models_graph.nodes)
        edges = len(loaded.graph.models_graph.edges)
        ready, load, click, search = [], [], [], []
        with open_browser() as browser:
            for _ in range(args.runs):
                browser.events.clear()
                browser.call("Page.navigate", {"url": page.as_uri()}, session=True)
                browser.wait_for("Page.loadEventFired")
                browser.wait_until(READY)
                load.append(browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000)
                ready.append(browser.evaluate("window.__readyAt") / 1000)
                problems = browser.problems(page.as_uri())
                assert not problems, problems
                began = time.perf_counter()
                browser.evaluate(
                    "document.querySelector('g.n:nth-child(500)').dispatchEvent(new MouseEvent('click', {bubbles: true}))"
                )
                browser.wait_until(
                    "!document.getElementById('panel').hidden && !!document.getElementById('panel-title')"
                )
                click.append(time.perf_counter() - began)
                began = time.perf_counter()
                browser.evaluate(
                    "(() => { const s = document.getElementById('search');"
                    " s.value = document.querySelector('g.n:nth-child(10)').getAttribute('data-k').split(':')[1];"
                    " s.dispatchEvent(new Event('input')); })()"
                )
                browser.wait_until("document.querySelectorAll('g.n.hit').length > 0")
                search.append(time.perf_counter() - began)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "project": {
            "sqlmesh_models": args.sqlmesh,
            "dbt_models": args.dbt,
            "models_drawn": models,
            "edges_drawn": edges,
        },
        "compile_s": round(compile_s, 2),
        "page_bytes": len(html.encode()),
        "server": {
            "load_project_cold_s": round(load_cold_s, 3),
            "load_project_cached_median_s": round(statistics.median(cached), 4),
            "render_page_median_s": round(statistics.median(render), 3),
        },
        "browser": {
            "load_event_median_s": round(statistics.median(load), 3),
            "script_ready_median_s": round(statistics.median(ready), 3),
            "click_to_panel_median_s": round(statistics.median(click), 3),
            "search_to_highlight_median_s": round(statistics.median(search), 3),
            "load_event_runs_s": [round(x, 3) for x in load],
        },
    }
    result["page_total_median_s"] = round(
        result["server"]["render_page_median_s"] + result["browser"]["script_ready_median_s"], 3
    )
    target = REPO / "benchmarks" / "results" / "ui_lineage_render.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
