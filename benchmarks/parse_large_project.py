"""DAG-file parse time from the compiled artifact for a large synthetic dual-engine project.

    .venv/bin/python benchmarks/parse_large_project.py [--sqlmesh 500] [--dbt 500] [--runs 7]

Generates the project (benchmarks/generate_project.py), runs `dualengine compile` once,
then parses `dags/dualengine_example.py` against it in fresh interpreters that have
`airflow.sdk` imported (as the DAG processor has): the median time of executing the DAG
file, and the peak RSS of those processes. Writes results/parse_large_project.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import BIN, ENV, REPO, parse_dag_file, timed  # noqa: E402
from generate_project import generate_project  # noqa: E402

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlmesh", type=int, default=500)
    parser.add_argument("--dbt", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dualengine-parse-bench-"))
    try:
        project = work / "project"
        summary = generate_project(project, sqlmesh_models=args.sqlmesh, dbt_models=args.dbt)
        compile_s = timed([str(BIN / "dualengine"), "compile", str(project)], REPO, {**ENV, "DUALENGINE_DUCKDB_PATH": str(work / "bench.duckdb")})
        env = {**ENV, "AIRFLOW_HOME": str(work / "airflow"), "DUALENGINE_PROJECT_DIR": str(project)}
        runs = parse_dag_file(REPO / "dags" / "dualengine_example.py", env, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "project": {"sqlmesh_models": args.sqlmesh, "dbt_models": args.dbt, "edges": summary.get("edges")},
        "compile_s": compile_s,
        "parse_median_s": statistics.median(r["parse_s"] for r in runs),
        "parse_min_s": min(r["parse_s"] for r in runs),
        "parse_max_s": max(r["parse_s"] for r in runs),
        "tasks": runs[0]["tasks"],
        "peak_rss_mib_median": statistics.median(r["peak_rss_mib"] for r in runs),
        "runs": runs,
    }
    target = REPO / "benchmarks" / "results" / "parse_large_project.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.sqlmesh} SQLMesh + {args.dbt} dbt models, {result['tasks']} tasks: compile {compile_s:.1f} s; parse median {result['parse_median_s']:.2f} s (min {result['parse_min_s']:.2f}, max {result['parse_max_s']:.2f}); peak RSS {result['peak_rss_mib_median']:.0f} MiB")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
