"""Measure the walking skeleton: DAG parse time, the demo through Airflow, the bare CLIs.

    .venv/bin/python benchmarks/orchestration_overhead.py [--runs 3] [--parse-runs 7]

Writes benchmarks/results/orchestration_overhead.json and prints a table. Run it on an
otherwise idle machine: the numbers are wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import BIN, ENV, REPO, parse_dag_file, timed  # noqa: E402

PROJECT = REPO / "transforms"
DAG_FILE = REPO / "dags" / "dualengine_example.py"


def parse_times(runs: int, home: Path) -> list[float]:
    """Parse time as the DAG processor sees it: Airflow is already imported, the file is executed."""
    env = {**ENV, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return [r["parse_s"] for r in parse_dag_file(DAG_FILE, env, runs)]


def bare_cli(runs: int, work: Path) -> list[dict[str, float]]:
    """The same work as the DAG by hand, on a fresh DuckDB file: `sqlmesh plan dev` of the
    models dbt reads, `dbt build`, then `sqlmesh plan dev` again for the SQLMesh model that
    reads dbt's mart (its macro takes the dbt schema from DUALENGINE_DBT_SCHEMA)."""
    out = []
    plan = [str(BIN / "sqlmesh"), "plan", "dev", "--auto-apply", "--no-prompts", "--include-unmodified"]
    for index in range(runs):
        db = work / f"bare{index}" / "shop.duckdb"
        db.parent.mkdir(parents=True)
        env = {**ENV, "DUALENGINE_DUCKDB_PATH": str(db), "DUALENGINE_DBT_SCHEMA": "analytics_dev"}
        upstream = timed(
            [*plan, "--select-model", "raw.*", "--select-model", "staging.*", "--select-model", "intermediate.*"],
            PROJECT / "sqlmesh",
            env,
        )
        dbt = timed(
            [
                str(BIN / "dbt"),
                "build",
                "--profiles-dir",
                ".",
                "--target",
                "dev",
                "--vars",
                '{"sqlmesh_schema_suffix": "__dev"}',
            ],
            PROJECT / "dbt",
            env,
        )
        downstream = timed(plan, PROJECT / "sqlmesh", env)
        out.append(
            {"sqlmesh_plan_s": upstream + downstream, "dbt_build_s": dbt, "total_s": upstream + dbt + downstream}
        )
    return out


def demo(runs: int, work: Path) -> list[dict[str, float]]:
    out = []
    for index in range(runs):
        began = time.perf_counter()
        result = subprocess.run(
            [
                str(BIN / "dualengine"),
                "demo",
                str(PROJECT),
                "--dags-folder",
                str(REPO / "dags"),
                "--home",
                str(work / f"demo{index}"),
            ],
            env=ENV,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - began
        if result.returncode != 0:
            raise RuntimeError(result.stdout[-3000:] + result.stderr[-3000:])
        match = re.search(r"dag\.test\(\) ([\d.]+) s", result.stdout)
        out.append({"demo_wall_s": wall, "dag_test_s": float(match.group(1)) if match else float("nan")})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--parse-runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dualengine-bench-"))
    try:
        subprocess.run([str(BIN / "dualengine"), "compile", str(PROJECT)], env=ENV, check=True, capture_output=True)
        parse = parse_times(args.parse_runs, work / "parse-home")
        bare = bare_cli(args.runs, work)
        runs = demo(args.runs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    bare_total = med(r["total_s"] for r in bare)
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "parse_s": {"median": med(parse), "min": min(parse), "max": max(parse), "runs": parse},
        "bare_cli": {
            "sqlmesh_plan_median_s": med(r["sqlmesh_plan_s"] for r in bare),
            "dbt_build_median_s": med(r["dbt_build_s"] for r in bare),
            "total_median_s": bare_total,
            "runs": bare,
        },
        "airflow": {
            "dag_test_median_s": med(r["dag_test_s"] for r in runs),
            "demo_wall_median_s": med(r["demo_wall_s"] for r in runs),
            "runs": runs,
        },
    }
    results["overhead_ratio_dag_test_vs_bare"] = results["airflow"]["dag_test_median_s"] / bare_total
    target = REPO / "benchmarks" / "results" / "orchestration_overhead.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"DAG file parse (Airflow already imported), median of {len(parse)}: {results['parse_s']['median']:.3f} s")
    print(f"bare CLIs (sqlmesh plan + dbt build), median of {len(bare)}: {bare_total:.1f} s")
    print(
        f"dag.test() of the same work, median of {len(runs)}: {results['airflow']['dag_test_median_s']:.1f} s (ratio {results['overhead_ratio_dag_test_vs_bare']:.2f}x)"
    )
    print(f"whole demo command, median: {results['airflow']['demo_wall_median_s']:.1f} s")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
