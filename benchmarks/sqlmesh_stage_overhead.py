"""SQLMesh stages under Airflow vs the bare SQLMesh CLI, and DAG parse time.

    .venv/bin/python benchmarks/sqlmesh_stage_overhead.py [--models 200] [--runs 3]

For the example project and a generated project of N SQLMesh models: `dualengine compile`
time, DAG parse time (median of 5), the SQLMesh stages' wall time inside `dag.test()` (first
build, then an unchanged re-run) against `sqlmesh plan` on the same work. Each Airflow
measurement runs in its own process with its own Airflow home and DuckDB file.
Writes results/sqlmesh_stage_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import BIN, ENV, REPO, parse_dag_file  # noqa: E402
from bench_common import timed as _timed


def measure_airflow(project: Path, out: Path) -> None:
    """In a fresh process: run the project's DAG twice with dag.test(); record SQLMesh stage spans."""
    home = out.parent / f"home-{out.stem}"
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / "pipeline.py").symlink_to(REPO / "dags" / "dualengine_example.py")
    os.environ["DUALENGINE_PROJECT_DIR"] = str(project)
    from airflow_provider_dualengine.cli.local_airflow import (
        configure_environment,
        ensure_pool,
        migrate_metadata_db,
        register_duckdb_warehouse,
    )

    configure_environment(home, dags)
    migrate_metadata_db()
    register_duckdb_warehouse("dualengine_warehouse", home / "warehouse" / "bench.duckdb")
    ensure_pool("dualengine_warehouse")
    from airflow.dag_processing.dagbag import DagBag

    dag = next(iter(DagBag(dag_folder=str(dags)).dags.values()))
    result = {}
    for label in ("first_build", "unchanged_rerun"):
        began = time.perf_counter()
        run = dag.test()
        wall = time.perf_counter() - began
        assert str(run.state) == "success", f"{label}: {run.state}"
        tis = run.get_task_instances()
        spans = {}
        for stage in sorted({ti.task_id.split(".")[0] for ti in tis if ".sqlmesh." in ti.task_id}):
            mine = [ti for ti in tis if ti.task_id.startswith(f"{stage}.sqlmesh.")]
            executor = next(ti for ti in mine if ti.task_id.endswith(".run_stage"))
            spans[stage] = {
                "stage_span_s": (max(ti.end_date for ti in mine) - min(ti.start_date for ti in mine)).total_seconds(),
                "engine_task_s": (executor.end_date - executor.start_date).total_seconds(),
                "model_tasks": len(mine) - 1,
            }
        result[label] = {
            "dag_test_wall_s": wall,
            "stages": spans,
            "sqlmesh_total_s": sum(s["stage_span_s"] for s in spans.values()),
        }
    out.write_text(json.dumps(result))


def parse_median(project: Path, runs: int, home: Path) -> float:
    env = {**ENV, "AIRFLOW_HOME": str(home), "DUALENGINE_PROJECT_DIR": str(project)}
    return statistics.median(r["parse_s"] for r in parse_dag_file(REPO / "dags" / "dualengine_example.py", env, runs))


def bare_sqlmesh(project: Path, work: Path, runs: int) -> dict[str, float]:
    firsts, reruns = [], []
    for index in range(runs):
        db = work / f"bare-{project.name}-{index}" / "bench.duckdb"
        db.parent.mkdir(parents=True)
        env = {**ENV, "DUALENGINE_DUCKDB_PATH": str(db)}
        cmd = [str(BIN / "sqlmesh"), "plan", "dev", "--auto-apply", "--no-prompts", "--include-unmodified"]
        firsts.append(_timed(cmd, project / "sqlmesh", env))
        reruns.append(_timed(cmd, project / "sqlmesh", env))
    return {
        "first_build_s": statistics.median(firsts),
        "unchanged_rerun_s": statistics.median(reruns),
        "runs": {"first": firsts, "rerun": reruns},
    }


def bench(project: Path, work: Path, runs: int) -> dict:
    compile_s = _timed([str(BIN / "dualengine"), "compile", str(project)], REPO, ENV)
    parse_s = parse_median(project, 5, work / f"parse-{project.name}")
    bare = bare_sqlmesh(project, work, runs)
    airflow = []
    for index in range(runs):
        out = work / f"airflow-{project.name}-{index}.json"
        subprocess.run(
            [sys.executable, __file__, "--measure-airflow", str(project), str(out)],
            env=ENV,
            check=True,
            capture_output=True,
        )
        airflow.append(json.loads(out.read_text()))
    return summarize(
        {
            "compile_s": compile_s,
            "dag_parse_median_s": parse_s,
            "bare_sqlmesh_plan": bare,
            "airflow_sqlmesh_stages": {"runs": airflow},
        }
    )


def summarize(result: dict) -> dict:
    """Medians and ratios: whole SQLMesh stages (engine task + per-model report tasks, as
    dag.test runs them one after another) and the engine tasks alone, against the bare CLI."""
    runs, bare, stages = (
        result["airflow_sqlmesh_stages"]["runs"],
        result["bare_sqlmesh_plan"],
        result["airflow_sqlmesh_stages"],
    )
    for label, bare_s in (("first_build", bare["first_build_s"]), ("unchanged_rerun", bare["unchanged_rerun_s"])):
        whole = statistics.median(r[label]["sqlmesh_total_s"] for r in runs)
        engine = statistics.median(sum(s["engine_task_s"] for s in r[label]["stages"].values()) for r in runs)
        stages[f"{label}_median_s"], stages[f"{label}_engine_tasks_median_s"] = whole, engine
        result[f"ratio_{label}"], result[f"ratio_{label}_engine_tasks"] = whole / bare_s, engine / bare_s
    return result


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure-airflow":
        measure_airflow(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    target = REPO / "benchmarks" / "results" / "sqlmesh_stage_overhead.json"
    if sys.argv[1:] == ["--resummarize"]:  # recompute the summary from the recorded raw runs
        results = {name: summarize(r) for name, r in json.loads(target.read_text()).items()}
        target.write_text(json.dumps(results, indent=2) + "\n")
        report(results)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from generate_project import generate_project

    work = Path(tempfile.mkdtemp(prefix="dualengine-stage-bench-"))
    try:
        example = work / "example"
        shutil.copytree(
            REPO / "transforms", example, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache", "target")
        )
        generated = work / f"generated{args.models}"
        generate_project(generated, sqlmesh_models=args.models, dbt_models=0)
        results = {
            "example": bench(example, work, args.runs),
            f"generated_{args.models}": bench(generated, work, args.runs),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    report(results)
    print(f"wrote {target}")


def report(results: dict) -> None:
    for name, r in results.items():
        a, b = r["airflow_sqlmesh_stages"], r["bare_sqlmesh_plan"]
        print(f"{name}: compile {r['compile_s']:.1f} s; DAG parse {r['dag_parse_median_s']:.2f} s")
        for label in ("first_build", "unchanged_rerun"):
            print(
                f"  {label}: `sqlmesh plan` {b[label + '_s']:.1f} s; in Airflow: engine tasks {a[label + '_engine_tasks_median_s']:.1f} s"
                f" ({r['ratio_' + label + '_engine_tasks']:.2f}x), whole stages with model tasks {a[label + '_median_s']:.1f} s ({r['ratio_' + label]:.2f}x)"
            )


if __name__ == "__main__":
    main()
