"""DAG-file parse time from the compiled artifact for a large synthetic dual-engine project.

    .venv/bin/python benchmarks/parse_large_project.py [--sqlmesh 500] [--dbt 500] [--runs 7]

Generates the project (benchmarks/generate_project.py), runs `dualengine compile` once,
then parses `dags/dualengine_example.py` against it in fresh interpreters: the median time
of executing the DAG file and the peak RSS of those processes, in two settings (see
bench_common: COLD = only airflow.sdk imported, PROCESSOR = Airflow's DAG-processor module
imported). The baseline is Cosmos alone rendering the same dbt models from the same
manifest (a DbtTaskGroup in a DAG), so "ours" minus "Cosmos alone" is what the provider
adds (SQLMesh per-model tasks, graph, artifact checks). Writes results/parse_large_project.json.
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
from bench_common import BIN, COLD, ENV, PROCESSOR, REPO, parse_dag_file, timed  # noqa: E402
from generate_project import generate_project  # noqa: E402

COSMOS_ALONE = """# airflow dag: Cosmos alone on the same manifest (benchmark baseline)
import pendulum
from airflow.sdk import DAG
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import DuckDBUserPasswordProfileMapping

with DAG("cosmos_alone", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
    DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path={dbt!r}, manifest_path={manifest!r}, project_name="bench", install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name="bench", target_name="dev", profile_mapping=DuckDBUserPasswordProfileMapping(conn_id="dualengine_warehouse", profile_args={{"schema": "analytics_dev"}})),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, select=["resource_type:model"], test_behavior=TestBehavior.AFTER_EACH),
    )
"""


def _summary(runs: list[dict]) -> dict:
    return {
        "median_s": statistics.median(r["parse_s"] for r in runs),
        "min_s": min(r["parse_s"] for r in runs),
        "max_s": max(r["parse_s"] for r in runs),
        "tasks": runs[0]["tasks"],
        "peak_rss_mib_median": statistics.median(r["peak_rss_mib"] for r in runs),
        "runs_s": [round(r["parse_s"], 3) for r in runs],
    }


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
        compile_s = timed(
            [str(BIN / "dualengine"), "compile", str(project)],
            REPO,
            {**ENV, "DUALENGINE_DUCKDB_PATH": str(work / "bench.duckdb")},
        )
        env = {
            **ENV,
            "AIRFLOW_HOME": str(work / "airflow"),
            "DUALENGINE_PROJECT_DIR": str(project),
            "AIRFLOW_CONN_DUALENGINE_WAREHOUSE": '{"conn_type": "duckdb", "host": "/tmp/bench.duckdb"}',
        }
        cosmos_dag = work / "cosmos_alone.py"
        cosmos_dag.write_text(
            COSMOS_ALONE.format(dbt=str(project / "dbt"), manifest=str(project / "dbt" / "target" / "manifest.json"))
        )
        parse_dag_file(
            REPO / "dags" / "dualengine_example.py", env, 1
        )  # writes .pyc files and Cosmos' cache, like any earlier parse
        results = {}
        for label, preload in (("cold", COLD), ("processor", PROCESSOR)):
            results[label] = {
                "dualengine": _summary(
                    parse_dag_file(REPO / "dags" / "dualengine_example.py", env, args.runs, preload)
                ),
                "cosmos_alone": _summary(parse_dag_file(cosmos_dag, env, args.runs, preload)),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "project": {"sqlmesh_models": args.sqlmesh, "dbt_models": args.dbt, "edges": summary.get("edges")},
        "compile_s": compile_s,
        "preload": {"cold": COLD, "processor": PROCESSOR},
        **results,
        # headline: what the DAG processor pays per parse
        "parse_median_s": results["processor"]["dualengine"]["median_s"],
    }
    target = REPO / "benchmarks" / "results" / "parse_large_project.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{args.sqlmesh} SQLMesh + {args.dbt} dbt models: compile {compile_s:.1f} s")
    for label in results:
        ours, cosmos = results[label]["dualengine"], results[label]["cosmos_alone"]
        print(
            f"  {label:9} parse median {ours['median_s']:.2f} s ({ours['tasks']} tasks, peak RSS {ours['peak_rss_mib_median']:.0f} MiB);"
            f" Cosmos alone {cosmos['median_s']:.2f} s ({cosmos['tasks']} tasks, {cosmos['peak_rss_mib_median']:.0f} MiB); provider adds {ours['median_s'] - cosmos['median_s']:+.2f} s"
        )
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
