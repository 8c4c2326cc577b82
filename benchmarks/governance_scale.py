"""How long `dualengine engines`, `lint`, `docs` and `validate` take on a large project.

    .venv/bin/python benchmarks/governance_scale.py [--sqlmesh 500] [--dbt 500] [--runs 3]

Generates the synthetic project (benchmarks/generate_project.py), compiles it once, gives it
engine selection rules (every condition on, an override glob, a declared cost) and a model
organization file (layers by folder, the seed's prefixes, the directory structure), then
runs each command `--runs` times in a fresh interpreter, as a user or CI would. Writes
benchmarks/results/governance_scale.json (medians, min-max, each command's exit code and
finding counts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import ENV  # type: ignore[import-not-found]
from generate_project import generate_project  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
DUALENGINE = Path(sys.executable).with_name("dualengine")

RULES = """\
engine_selection:
  default_engine: dbt
  mismatch: warning
  sqlmesh_conditions:
    cost_threshold: {monthly_cost_usd: 1000, execution_time_minutes: 30}
    complexity_indicators: {python_required: true, complex_window_functions: true, ml_model_integration: true, complexity_score: 7}
    reliability_requirements: {zero_downtime_deployment: true, sla_availability: "> 99.9%"}
  dbt_conditions:
    monthly_cost_usd_below: 500
    simple_transformations: true
    rapid_iteration_needed: true
    existing_dbt_model: true
    bi_tool_dependency: true
  override_rules:
    force_sqlmesh: {models: ["bench_raw.*", "bench_l1.*"], reason: landing layers keep SQLMesh's intervals}
  declared:
    - models: ["bench_l5.*"]
      monthly_cost_usd: 1500
"""

ORGANIZATION = """\
layers:
  find_by: [folder]
  severity: warning
  definitions:
    raw: {engines: [sqlmesh], folders: [sqlmesh/models/bench_raw]}
    integration: {engines: [sqlmesh], folders: [sqlmesh/models/bench_l1, sqlmesh/models/bench_l2]}
    business: {engines: [sqlmesh, dbt], folders: [sqlmesh/models/bench_l3, sqlmesh/models/bench_l4, sqlmesh/models/bench_l5]}
naming_conventions:
  severity: warning
  sqlmesh_models: {prefix: "sqlm_"}
  dbt_models: {prefix: "dbt_"}
  cross_engine_refs: {format: "engine.model_name"}
"""

COMMANDS = {
    "engines --no-history": ["engines", "{P}", "--no-history", "--json"],
    "lint": ["lint", "{P}", "--json"],
    "docs": ["docs", "{P}", "--output", "{T}/model_metadata.yml"],
    "validate": ["validate", "{P}"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlmesh", type=int, default=500)
    parser.add_argument("--dbt", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="governance-bench-") as tmp:
        project = Path(tmp) / "project"
        generate_project(project, sqlmesh_models=args.sqlmesh, dbt_models=args.dbt)
        (project / "config" / "engine_selection_rules.yml").write_text(RULES)
        (project / "config" / "model_organization.yml").write_text(ORGANIZATION)
        began = time.monotonic()
        subprocess.run([str(DUALENGINE), "compile", str(project)], check=True, capture_output=True, env=ENV)
        compile_s = time.monotonic() - began
        results = {}
        for label, argv in COMMANDS.items():
            command = [str(DUALENGINE), *(a.format(P=project, T=tmp) for a in argv)]
            times, code, out = [], None, ""
            for _ in range(args.runs):
                began = time.monotonic()
                done = subprocess.run(command, capture_output=True, text=True, env=ENV)
                times.append(time.monotonic() - began)
                code, out = done.returncode, done.stdout
            entry = {
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "exit_code": code,
            }
            if argv[-1] == "--json":
                document = json.loads(out)
                entry["findings"] = len(document.get("findings", []))
                if "models" in document:
                    entry["models"] = len(document["models"])
            results[label] = entry
            print(f"{label:<22} {entry['median_s']:.2f} s ({entry['min_s']:.2f}-{entry['max_s']:.2f}), exit {code}")
    record = {
        "project": {"sqlmesh_models": args.sqlmesh, "dbt_models": args.dbt},
        "compile_s": compile_s,
        "runs": args.runs,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_average_after": os.getloadavg()},
        "commands": results,
    }
    out = HERE / "results" / "governance_scale.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"compile {compile_s:.1f} s; wrote {out}")


if __name__ == "__main__":
    main()
