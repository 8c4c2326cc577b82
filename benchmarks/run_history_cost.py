"""What recording the run history costs a pipeline run (issue 17: under 5 % of its wall time).

    .venv/bin/python benchmarks/run_history_cost.py --runs 3

Each run is the example pipeline through dag.test() in a fresh process on a fresh DuckDB
file (benchmarks/_run_dag_once.py), with the run history on. Two numbers per run:
- **recording time**: the time spent inside `record_task_history` (counting rows the engine
  did not report, then one transaction per task), summed over the run's tasks, against the
  run's dag.test() wall time;
- **A/B**: the same run with `RenderConfig(run_history=False)`, alternated, for the
  difference in wall time (noisier: it includes everything else that varies).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_common import ENV, REPO

CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
import _run_dag_once as once
from pathlib import Path
home, project, duck, out, timing = map(Path, sys.argv[1:6])
once._configure(home, project)
from airflow_provider_dualengine.monitoring import engine_records
spent = []
original = engine_records.record_task_history
def timed(*args, **kwargs):
    began = time.perf_counter()
    try:
        return original(*args, **kwargs)
    finally:
        spent.append(time.perf_counter() - began)
engine_records.record_task_history = timed
code = once.run(home, project, duck, out)
timing.write_text(json.dumps({{"record_s": sum(spent), "calls": len(spent)}}))
sys.exit(code)
"""


def one_run(work: Path, project: Path, index: int, history: bool) -> dict:
    home = work / "home"
    duck, out, timing = work / f"w{index}.duckdb", work / f"out{index}.json", work / f"t{index}.json"
    env = {**ENV, "DUALENGINE_BENCH_RENDER": json.dumps({"run_history": history})}
    child = CHILD.format(bench=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", child, str(home), str(project), str(duck), str(out), str(timing)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    report, spent = json.loads(out.read_text()), json.loads(timing.read_text())
    return {"history": history, "dag_test_s": report["dag_test_s"], **spent}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        project = work / "transforms"
        subprocess.run(["cp", "-r", str(REPO / "transforms"), str(project)], check=True)
        subprocess.run(
            [str(Path(sys.executable).parent / "dualengine"), "compile", str(project)],
            env=ENV,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("_run_dag_once.py")),
                "prepare",
                str(work / "home"),
                str(project),
            ],
            env=ENV,
            check=True,
            capture_output=True,
        )
        runs = []
        for _ in range(args.runs):
            for history in (True, False):
                runs.append(one_run(work, project, len(runs), history))
                print(runs[-1], flush=True)
    on = [r for r in runs if r["history"]]
    off = [r for r in runs if not r["history"]]
    shares = [r["record_s"] / r["dag_test_s"] * 100 for r in on]
    result = {
        "runs": runs,
        "record_s_median": statistics.median(r["record_s"] for r in on),
        "record_calls": on[0]["calls"],
        "record_share_pct_median": statistics.median(shares),
        "record_share_pct_max": max(shares),
        "dag_test_s_median_on": statistics.median(r["dag_test_s"] for r in on),
        "dag_test_s_median_off": statistics.median(r["dag_test_s"] for r in off),
    }
    (REPO / "benchmarks" / "results" / "run_history_cost.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))


if __name__ == "__main__":
    main()
