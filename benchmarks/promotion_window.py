"""Promotion window: how long prod readers can be affected while both engines switch.

    .venv/bin/python benchmarks/promotion_window.py [--models 200] [--runs 3]

The window is BEGIN..COMMIT of the one transaction that replaces every SQLMesh prod view
and every dbt live view (deployments/promotion.py), as recorded in the deployment record.

- example project: the real deploy DAG under dag.test(), deployed `--runs` times;
- generated project (N SQLMesh + N dbt models): green built with SQLMesh's Python API
  (plan into `prod_green`) and one `dbt build` into the idle slot, then the deploy DAG's
  own start + promote steps (coordinator.start/promote) - the promotion itself is
  identical, only the build is done outside Airflow (400 Cosmos tasks under dag.test()
  would take a quarter of an hour and measure nothing about the window).
Writes results/promotion_window.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO  # noqa: E402

log = logging.getLogger("promotion_window")


def _airflow(home: Path, db: Path) -> None:
    """One Airflow home per process (Airflow reads its config once); the warehouse
    connection (an environment variable) can change between the two projects."""
    from airflow_provider_dualengine.cli.local_airflow import (
        configure_environment,
        ensure_pool,
        migrate_metadata_db,
        register_duckdb_warehouse,
    )

    if not (home / "dags").is_dir():
        (home / "dags").mkdir(parents=True)
        configure_environment(home, home / "dags")
        migrate_metadata_db()
    register_duckdb_warehouse("dualengine_warehouse", db)
    ensure_pool("dualengine_warehouse")


def _windows(db: Path) -> list[float]:
    import duckdb

    with duckdb.connect(str(db)) as con:
        rows = con.execute(
            "SELECT details FROM dualengine.deployments WHERE status = 'succeeded' ORDER BY started_at"
        ).fetchall()
    return [json.loads(r[0])["promotion_seconds"] for r in rows]


def example(work: Path, runs: int) -> dict:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    work.mkdir(parents=True, exist_ok=True)
    db = work / "example.duckdb"
    _airflow(work.parent / "home", db)
    compile_project(load_project(REPO / "transforms"))
    dag_file = work.parent / "home" / "dags" / "deploy.py"
    dag_file.write_text(
        f"from airflow_provider_dualengine import ProjectConfig, build_deploy_dag\ndag = build_deploy_dag(ProjectConfig({str(REPO / 'transforms')!r}, environment='production'), dag_id='bench_deploy')\n"
    )
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(dag_file)).dags["bench_deploy"]
    walls = []
    for _ in range(runs):
        began = time.perf_counter()
        run = dag.test()
        walls.append(round(time.perf_counter() - began, 1))
        assert str(run.state) == "success", run.state
    windows = _windows(db)
    return {
        "deployments": runs,
        "views_switched": 10,
        "window_s": windows,
        "window_median_s": statistics.median(windows),
        "deploy_dag_wall_s": walls,
    }


def generated(work: Path, models: int, runs: int) -> dict:
    from generate_project import generate_project

    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project
    from airflow_provider_dualengine.deployments.coordinator import DeploymentSite, promote, start

    project = work / "gen"
    summary = generate_project(project, sqlmesh_models=models, dbt_models=models)
    db = work / "gen.duckdb"
    os.environ["DUALENGINE_DUCKDB_PATH"] = str(db)
    _airflow(work.parent / "home", db)
    compile_project(load_project(project))
    site = DeploymentSite.of(str(project), "production")
    windows, builds = [], []
    for _ in range(runs):
        began = time.perf_counter()
        started = start(site, "benchmark", log)
        with site.hook(dbt_schema=started["dbt_slot"]).context() as ctx:
            ctx.plan(site.green, no_prompts=True, auto_apply=True, skip_tests=True)
        _dbt_build(project, db, started["dbt_slot"], f"__{site.green}")
        builds.append(round(time.perf_counter() - began, 1))
        result = promote(site, started["deployment_id"], log)
        from airflow_provider_dualengine.deployments.coordinator import conclude

        conclude(site, started["deployment_id"], None, "", log)
        windows.append(result["promotion_seconds"])
    return {
        "sqlmesh_models": models,
        "dbt_models": models,
        "views_switched": result["sqlmesh_views"] + result["dbt_views"],
        "window_s": windows,
        "window_median_s": statistics.median(windows),
        "green_build_s": builds,
        "generator": summary.get("stages") if isinstance(summary, dict) else None,
    }


def _dbt_build(project: Path, db: Path, slot: str, sqlmesh_suffix: str) -> None:
    from dbt.cli.main import dbtRunner

    profiles = project / "bench_profiles"
    profiles.mkdir(exist_ok=True)
    name = load_name(project)
    (profiles / "profiles.yml").write_text(
        f"{name}:\n  target: slot\n  outputs:\n    slot:\n      type: duckdb\n      path: {db}\n      schema: {slot}\n      threads: 1\n"
    )
    os.environ["DUALENGINE_SQLMESH_MODELS"] = str(project / "target" / "dualengine.json")
    result = dbtRunner().invoke(
        [
            "run",
            "--project-dir",
            str(project / "dbt"),
            "--profiles-dir",
            str(profiles),
            "--vars",
            json.dumps({"sqlmesh_schema_suffix": sqlmesh_suffix}),
            "--quiet",
        ]
    )
    assert result.success, result.exception


def load_name(project: Path) -> str:
    import yaml

    return yaml.safe_load((project / "dbt" / "dbt_project.yml").read_text())["profile"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-example", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="promotion-window-"))
    results = {"machine": "2 cores", "measured": time.strftime("%Y-%m-%d")}
    out = REPO / "benchmarks" / "results" / "promotion_window.json"
    if out.exists():  # keep the other part's numbers when one part is re-measured
        results = {**json.loads(out.read_text()), **results}
    if not args.skip_generated:
        results[f"generated_{args.models}x2"] = generated(work / "gen", args.models, args.runs)
        out.write_text(json.dumps(results, indent=2) + "\n")
    if not args.skip_example:
        results["example"] = example(work / "example", args.runs)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
