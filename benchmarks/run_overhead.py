"""What a run through Airflow costs against the bare engine CLIs doing the same work.

    .venv/bin/python benchmarks/run_overhead.py --what dag-test [--projects example small large] [--runs 5]
    .venv/bin/python benchmarks/run_overhead.py --what import [--import-runs 7]
    .venv/bin/python benchmarks/run_overhead.py --what scheduler [--runs 5]

- dag-test: per project (example = transforms/, small = 4 SQLMesh + 3 dbt generated models,
  large = 200 + 200), `dualengine compile` and a sqlite Airflow home once, then bare CLIs and
  one whole `dag.test()` process alternately, each on a fresh DuckDB file. Both sides are
  whole processes: wall time, peak RSS (os.wait4: the process and the descendants it
  reaped; bare = the largest of its CLI processes) and CPU time. Per-task durations and
  operator classes come from the DAG run's task instances.
- import: executing dags/dualengine_example.py in a fresh interpreter that has imported
  what a task process has (airflow.sdk.execution_time.task_runner), and only airflow.sdk.
- scheduler: the wheel in a venv (tests/cluster/install.py, $DUALENGINE_CLUSTER_VENV_CACHE
  reuses one), a real cluster with LocalExecutor (tests/cluster), the example DAG triggered
  through the REST API on a fresh warehouse file each run, alternating with the bare CLIs
  of the same venv.

Raw runs and summaries go to benchmarks/results/run_overhead.json, merged by part (and by
project for dag-test), so the parts can be run separately. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import BIN, COLD, ENV, REPO, TASK_RUNNER, parse_dag_file  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "run_overhead.json"
HELPER = Path(__file__).resolve().with_name("_run_dag_once.py")
DAG_FILE = REPO / "dags" / "dualengine_example.py"
EXAMPLE_DAG_ID = "dualengine_shop_development"
CONN_ID = "dualengine_warehouse"
# Generated projects: (SQLMesh models incl. the seed, dbt models); "example" is transforms/.
PROJECTS: dict[str, tuple[int, int] | None] = {
    "example": None,
    "small": (4, 3),
    "large": (200, 200),
    "large-stage-tasks": (200, 200),
}
# RenderConfig per project (default: per-model tasks); large-stage-tasks: one task per engine and stage
RENDER: dict[str, dict] = {"large-stage-tasks": {"sqlmesh_model_tasks": False, "dbt_model_tasks": False}}
ARTIFACTS = shutil.ignore_patterns("target", "logs", ".cache", "*.duckdb", "*.duckdb.wal", "__pycache__")
DEV_VARS = '{"sqlmesh_schema_suffix": "__dev"}'
PLAN = ["sqlmesh", "plan", "dev", "--auto-apply", "--no-prompts", "--include-unmodified"]
DBT_BUILD = ["dbt", "build", "--profiles-dir", ".", "--target", "dev", "--vars", DEV_VARS]
DBT_PARSE = ["dbt", "parse", "--profiles-dir", ".", "--target", "dev", "--vars", DEV_VARS]


@dataclass(frozen=True)
class Step:
    """One bare CLI process: argv[0] is a binary of the venv in use, run in <project>/<subdir>."""

    label: str
    argv: tuple[str, ...]
    subdir: str


# The example has a SQLMesh model reading a dbt mart: by hand that is three steps
# (as benchmarks/orchestration_overhead.py); its macro reads DUALENGINE_DBT_SCHEMA.
EXAMPLE_STEPS = (
    Step(
        "sqlmesh plan raw/staging/intermediate",
        (*PLAN, "--select-model", "raw.*", "--select-model", "staging.*", "--select-model", "intermediate.*"),
        "sqlmesh",
    ),
    Step("dbt build", tuple(DBT_BUILD), "dbt"),
    Step("sqlmesh plan (the rest)", tuple(PLAN), "sqlmesh"),
)
# Generated projects: stages sqlmesh, sqlmesh, dbt (dbt only reads SQLMesh views).
GENERATED_STEPS = (Step("sqlmesh plan", tuple(PLAN), "sqlmesh"), Step("dbt build", tuple(DBT_BUILD), "dbt"))
BARE_ENV = {"DUALENGINE_DBT_SCHEMA": "analytics_dev"}


# --------------------------------------------------------------------------- processes


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(cannot read {path}: {exc})"


def measure_process(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """Wall seconds, peak RSS and CPU seconds of one process. os.wait4 gives the rusage of
    the process together with the descendants it reaped (ru_maxrss: the largest of them)."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}  (in {cwd})\n".encode())
        out.flush()
        began = time.perf_counter()
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return {
        "wall_s": wall,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "exit": process.returncode,
    }


def run_checked(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    result = measure_process(argv, cwd, env, log)
    if result["exit"] != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed (exit {result['exit']}); {log}:\n{tail(log)}")
    return result


def remove_duckdb(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def bare_env(duckdb_file: Path, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in ENV.items() if k != "VIRTUAL_ENV"}
    return {
        **env,
        **BARE_ENV,
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "DUALENGINE_DUCKDB_PATH": str(duckdb_file),
    }


def bare_run(project: Path, steps: Iterable[Step], duckdb_file: Path, bin_dir: Path, log: Path) -> dict:
    """The project's work by hand on a fresh DuckDB file: each step a process of `bin_dir`."""
    remove_duckdb(duckdb_file)
    duckdb_file.parent.mkdir(parents=True, exist_ok=True)
    env = bare_env(duckdb_file, bin_dir)
    done = []
    for step in steps:
        argv = [str(bin_dir / step.argv[0]), *step.argv[1:]]
        done.append({"step": step.label, **run_checked(argv, project / step.subdir, env, log)})
    remove_duckdb(duckdb_file)
    return {
        "wall_s": sum(s["wall_s"] for s in done),
        "peak_rss_mib": max(s["peak_rss_mib"] for s in done),
        "cpu_s": sum(s["cpu_s"] for s in done),
        "steps": done,
    }


def warm_bare_project(project: Path, duckdb_file: Path, bin_dir: Path, log: Path) -> float:
    """`dbt parse` with the bare runs' target and vars (untimed in the results): dbt's
    partial-parse file then matches them, as it does for anyone re-running `dbt build`."""
    argv = [str(bin_dir / DBT_PARSE[0]), *DBT_PARSE[1:]]
    return run_checked(argv, project / "dbt", bare_env(duckdb_file, bin_dir), log)["wall_s"]


# --------------------------------------------------------------------------- facts and summaries


def machine() -> dict:
    versions = {}
    for dist in ("apache-airflow", "astronomer-cosmos", "sqlmesh", "dbt-core", "duckdb"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions (benchmark venv)": versions,
    }


def git_facts() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.rstrip("\n")

    changed = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": changed.splitlines() if changed else []}


def stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def task_costs(task_runs: list[list[dict]]) -> dict:
    """Median duration per task id, and per operator class the median over runs of the
    summed durations (with the task count), from the task lists of several runs."""
    per_task: dict[str, list[float]] = defaultdict(list)
    operator_of: dict[str, str] = {}
    per_class: dict[str, list[float]] = defaultdict(list)
    count_of: dict[str, int] = {}
    for tasks in task_runs:
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for t in tasks:
            per_task[t["task_id"]].append(t["duration_s"] or 0.0)
            operator_of[t["task_id"]] = t["operator"]
            sums[t["operator"]] += t["duration_s"] or 0.0
            counts[t["operator"]] += 1
        for name, total in sums.items():
            per_class[name].append(total)
            count_of[name] = counts[name]
    by_task = {
        task: {"operator": operator_of[task], "median_s": statistics.median(values)}
        for task, values in sorted(per_task.items())
    }
    by_class = {
        name: {"tasks": count_of[name], "sum_median_s": statistics.median(values)}
        for name, values in sorted(per_class.items(), key=lambda kv: -statistics.median(kv[1]))
    }
    return {"per_task": by_task, "per_operator_class": by_class}


def compare(bare: list[dict], airflow: list[dict], keys: tuple[str, ...]) -> dict:
    out = {}
    for key in keys:
        b, a = stats([r[key] for r in bare]), stats([r[key] for r in airflow])
        out[key] = {"bare": b, "airflow": a, "ratio_of_medians": ratio(a["median"], b["median"])}
    return out


# --------------------------------------------------------------------------- part 1: dag.test()


@dataclass
class Prepared:
    name: str
    root: Path
    project: Path  # what Airflow runs (compiled)
    bare_project: Path  # a copy for the bare CLIs, so their target/ and caches stay apart
    home: Path
    steps: tuple[Step, ...]
    facts: dict


def prepare_project(name: str, work: Path) -> Prepared:
    """Copy or generate, compile once, a bare copy, a sqlite Airflow home with the pool."""
    root = work / name
    project = root / "project"
    root.mkdir(parents=True)
    log = root / "prepare.log"
    sizes = PROJECTS[name]
    if sizes is None:
        shutil.copytree(REPO / "transforms", project, ignore=ARTIFACTS)
        facts: dict = {"source": "transforms/"}
    else:
        from generate_project import generate_project

        summary = generate_project(project, sqlmesh_models=sizes[0], dbt_models=sizes[1])
        facts = {"sqlmesh_models": summary["sqlmesh_models"], "dbt_models": summary["dbt_models"]}
    scratch = root / "compile.duckdb"
    env = {**ENV, "DUALENGINE_DUCKDB_PATH": str(scratch)}
    facts["compile_s"] = run_checked([str(BIN / "dualengine"), "compile", str(project)], root, env, log)["wall_s"]
    bare_project = root / "bare-project"
    shutil.copytree(project, bare_project, symlinks=True)
    warm_bare_project(bare_project, scratch, BIN, log)
    home = root / "airflow-home"
    run_checked([sys.executable, str(HELPER), "prepare", str(home), str(project)], root, ENV, log)
    remove_duckdb(scratch)
    steps = EXAMPLE_STEPS if sizes is None else GENERATED_STEPS
    return Prepared(name, root, project, bare_project, home, steps, facts)


def airflow_run(prepared: Prepared, index: int) -> dict:
    """One child process: build the DAG, dag.test() on a fresh DuckDB file; must succeed."""
    run_dir = prepared.root / f"run{index}"
    run_dir.mkdir(exist_ok=True)
    duckdb_file, report_file, log = run_dir / "warehouse.duckdb", run_dir / "airflow.json", run_dir / "airflow.log"
    argv = [sys.executable, str(HELPER), "run", str(prepared.home), str(prepared.project), str(duckdb_file)]
    env = {**ENV, "DUALENGINE_BENCH_RENDER": json.dumps(RENDER.get(prepared.name, {}))}
    result = measure_process([*argv, str(report_file)], run_dir, env, log)
    report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    if result["exit"] != 0 or report.get("state") != "success":
        failed = [t["task_id"] for t in report.get("tasks", []) if t["state"] != "success"]
        raise RuntimeError(
            f"{prepared.name}: dag.test() run {index} did not succeed (exit {result['exit']}, "
            f"state {report.get('state')}, not successful: {failed}); {log}:\n{tail(log)}"
        )
    remove_duckdb(duckdb_file)
    task_sum = sum(t["duration_s"] or 0.0 for t in report["tasks"])
    # interpreter start-up before the helper's first line, and exit after its report
    outside = result["wall_s"] - report["in_process_s"]
    return {**result, **report, "task_sum_s": task_sum, "startup_and_exit_s": outside}


def alternate(runs: int, bare: Callable[[int], dict], airflow: Callable[[int], dict], label: str) -> list[dict]:
    """A/B pairs, bare first, each with the load average it started under."""
    raw = []
    for index in range(runs):
        load = os.getloadavg()[0]
        pair = {"index": index, "load_1min_before": load, "bare": bare(index), "airflow": airflow(index)}
        raw.append(pair)
        print(
            f"  {label} run {index + 1}/{runs}: bare {pair['bare']['wall_s']:.1f} s, "
            f"Airflow {pair['airflow']['wall_s']:.1f} s ({len(pair['airflow']['tasks'])} tasks)",
            flush=True,
        )
    return raw


def dag_test_project(prepared: Prepared, runs: int) -> dict:
    """Alternate bare and Airflow runs; raw runs plus the summary."""

    def bare(index: int) -> dict:
        run_dir = prepared.root / f"run{index}"
        run_dir.mkdir(exist_ok=True)
        return bare_run(prepared.bare_project, prepared.steps, run_dir / "bare.duckdb", BIN, run_dir / "bare.log")

    raw = alternate(runs, bare, lambda index: airflow_run(prepared, index), prepared.name)
    bare_runs, airflow_runs = [r["bare"] for r in raw], [r["airflow"] for r in raw]
    airflow_only = {
        key: stats([r[key] for r in airflow_runs])
        for key in ("until_dag_test_s", "dag_test_s", "task_sum_s", "startup_and_exit_s")
    }
    return {
        "project": prepared.facts,
        "bare_steps": [s.label + ": " + " ".join(s.argv) for s in prepared.steps],
        "summary": compare(bare_runs, airflow_runs, ("wall_s", "peak_rss_mib", "cpu_s")),
        "airflow_breakdown": airflow_only,
        "task_costs": task_costs([r["tasks"] for r in airflow_runs]),
        "runs": raw,
    }


def airflow_floor(work: Path, runs: int) -> dict:
    """Whole-process dag.test() of a one-task DAG: the wall time and memory any Airflow run
    pays before an engine does anything (the least a ratio against bare CLIs can reach)."""
    home, out, log = work / "floor-home", work / "floor.json", work / "floor.log"
    run_checked([sys.executable, str(HELPER), "floor", str(home), str(out)], work, ENV, log)  # prepares the home
    raw = []
    for _ in range(runs):
        result = run_checked([sys.executable, str(HELPER), "floor", str(home), str(out)], work, ENV, log)
        raw.append({**result, **json.loads(out.read_text())})
    return {
        "wall_s": stats([r["wall_s"] for r in raw]),
        "peak_rss_mib": stats([r["peak_rss_mib"] for r in raw]),
        "runs": raw,
    }


def part_dag_test(args: argparse.Namespace, work: Path) -> dict:
    projects: dict = {"airflow_floor": {"recorded_at": now(), **airflow_floor(work, args.runs)}}
    floor = projects["airflow_floor"]
    print(
        f"Airflow floor (one-task DAG, whole process): {floor['wall_s']['median']:.1f} s, "
        f"{floor['peak_rss_mib']['median']:.0f} MiB",
        flush=True,
    )
    for name in args.projects:
        load_before = os.getloadavg()
        print(f"{name}: preparing (copy/generate, compile, Airflow home) ...", flush=True)
        prepared = prepare_project(name, work)
        result = dag_test_project(prepared, args.runs)
        projects[name] = {
            "recorded_at": now(),
            "git": git_facts(),
            "machine": machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "runs_requested": args.runs,
            **result,
        }
        print_dag_test(name, projects[name])
        if not args.keep:
            shutil.rmtree(prepared.root, ignore_errors=True)
    return projects


# --------------------------------------------------------------------------- part 2: import


def part_import(args: argparse.Namespace, work: Path) -> dict:
    """Executing dags/dualengine_example.py against a compiled copy of the example."""
    load_before = os.getloadavg()
    project = work / "example"
    shutil.copytree(REPO / "transforms", project, ignore=ARTIFACTS)
    scratch = work / "compile.duckdb"
    run_checked(
        [str(BIN / "dualengine"), "compile", str(project)],
        work,
        {**ENV, "DUALENGINE_DUCKDB_PATH": str(scratch)},
        work / "compile.log",
    )
    env = {
        **ENV,
        "AIRFLOW_HOME": str(work / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "DUALENGINE_PROJECT_DIR": str(project),
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps({"conn_type": "duckdb", "host": str(work / "shop.duckdb")}),
    }
    parse_dag_file(DAG_FILE, env, 1, TASK_RUNNER)  # .pyc files and caches, as after any earlier parse
    settings = {}
    for label, preload in (("task_runner", TASK_RUNNER), ("sdk_only", COLD)):
        runs = parse_dag_file(DAG_FILE, env, args.import_runs, preload)
        settings[label] = {
            "preload": preload,
            "parse_s": stats([r["parse_s"] for r in runs]),
            "peak_rss_mib": stats([r["peak_rss_mib"] for r in runs]),
            "tasks": runs[0]["tasks"],
            "runs": runs,
        }
    result = {
        "recorded_at": now(),
        "git": git_facts(),
        "machine": machine(),
        "dag_file": str(DAG_FILE.relative_to(REPO)),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        **settings,
    }
    print_import(result)
    return result


# --------------------------------------------------------------------------- part 3: scheduler


def cluster_class(extra_env: dict[str, str] | None = None):
    """AirflowCluster with Airflow's default re-parse interval (30 s; the test's 10 s makes
    the dag-processor re-parse during the runs three times as often), plus `extra_env`
    (Airflow settings under test, e.g. the scheduler's idle sleep)."""
    sys.path.insert(0, str(REPO))
    from tests.cluster import AirflowCluster

    class BenchCluster(AirflowCluster):
        parse_interval = "30"

        def _environment(self) -> dict[str, str]:
            return {
                **super()._environment(),
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": self.parse_interval,
                **(extra_env or {}),
            }

    return BenchCluster


def scheduler_tasks(cluster, run) -> list[dict]:
    """The run's task instances as the REST API has them (with operator and queue times)."""
    from urllib.parse import quote

    path = f"/api/v2/dags/{run.dag_id}/dagRuns/{quote(run.run_id, safe='')}/taskInstances"
    return [
        {
            "task_id": t["task_id"],
            "state": t["state"],
            "operator": t.get("operator"),
            "duration_s": t["duration"],
            "start": t["start_date"],
            "end": t["end_date"],
            "queued_when": t.get("queued_when"),
            "scheduled_when": t.get("scheduled_when"),
            "try_number": t["try_number"],
        }
        for t in cluster.api("GET", path, params={"limit": 1000})["task_instances"]
    ]


def scheduler_run(cluster, index: int) -> dict:
    remove_duckdb(cluster.warehouse)
    run = cluster.run_dag(EXAMPLE_DAG_ID, timeout=1800)
    tasks = scheduler_tasks(cluster, run)
    not_ok = {t["task_id"]: t["state"] for t in tasks if t["state"] != "success"}
    if run.state != "success" or not_ok:
        raise RuntimeError(
            f"scheduler run {index}: {run.summary()}\nnot successful: {not_ok}\n{cluster.diagnostics(run)}"
        )
    starts = [datetime.fromisoformat(t["start"]) for t in tasks if t["start"]]
    return {
        "run_id": run.run_id,
        "wall_s": run.wall_seconds,  # the run's start_date to end_date, as the scheduler recorded them
        "trigger_to_seen_final_s": run.polled_seconds,  # includes up to 2 s of polling
        "run_start_to_first_task_s": (min(starts) - run.start).total_seconds() if starts and run.start else None,
        "task_sum_s": sum(t["duration_s"] or 0.0 for t in tasks),
        "tasks": tasks,
    }


def part_scheduler(args: argparse.Namespace, work: Path) -> dict:
    from tests.cluster import build_wheel, install_cluster_venv

    load_before = os.getloadavg()
    began = time.perf_counter()
    wheel = build_wheel(work / "dist")
    venv = install_cluster_venv(work / "venv", wheel)
    setup: dict = {"wheel_and_venv_s": time.perf_counter() - began, "venv_cached": venv.cached}
    print(
        f"scheduler: venv ready in {setup['wheel_and_venv_s']:.0f} s (cached: {venv.cached}); starting the cluster ...",
        flush=True,
    )
    dags = work / "dags"  # the example DAG only: the dag-processor re-parses nothing else meanwhile
    dags.mkdir()
    shutil.copy2(DAG_FILE, dags / DAG_FILE.name)
    extra_env = dict(item.split("=", 1) for item in args.airflow_setting)
    cluster = cluster_class(extra_env)(work / "cluster", venv, dags_source=dags, executor=args.executor)
    raw = []
    try:
        cluster.start()
        cluster.create_connection({"connection_id": CONN_ID, "conn_type": "duckdb", "host": str(cluster.warehouse)})
        cluster.wait_for_dag(EXAMPLE_DAG_ID, timeout=300)
        setup["cluster_timings_s"] = dict(cluster.timings)
        bare_project = work / "bare-project"
        shutil.copytree(cluster.project, bare_project, symlinks=True)
        warm_bare_project(bare_project, work / "scratch.duckdb", venv.bin, work / "bare.log")
        raw = alternate(
            args.runs,
            lambda _: bare_run(bare_project, EXAMPLE_STEPS, work / "bare.duckdb", venv.bin, work / "bare.log"),
            lambda index: scheduler_run(cluster, index),
            "scheduler",
        )
    finally:
        cluster.stop()
        venv.remove()
    bare_runs, airflow_runs = [r["bare"] for r in raw], [r["airflow"] for r in raw]
    result = {
        "recorded_at": now(),
        "git": git_facts(),
        "machine": machine(),
        "cluster": {
            "executor": args.executor,
            "parallelism": cluster.parallelism,
            "metadata_db": "PostgreSQL (tests/pg_server.py)",
            "min_file_process_interval_s": int(cluster.parse_interval),
            "dags": [DAG_FILE.name],
            "airflow_settings": extra_env,
        },
        "setup": setup,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "bare_steps": [s.label + ": " + " ".join(s.argv) for s in EXAMPLE_STEPS],
        "summary": compare(bare_runs, airflow_runs, ("wall_s",)),
        "airflow_breakdown": {
            key: stats([r[key] for r in airflow_runs if r[key] is not None])
            for key in ("trigger_to_seen_final_s", "run_start_to_first_task_s", "task_sum_s")
        },
        "task_costs": task_costs([r["tasks"] for r in airflow_runs]),
        "runs": raw,
    }
    print_scheduler(result)
    return result


# --------------------------------------------------------------------------- tables


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _row(label: str, s: dict, unit: str) -> str:
    b, a = s["bare"], s["airflow"]
    r = s["ratio_of_medians"]
    return (
        f"  {label:<14} bare {b['median']:8.1f} {unit} ({b['min']:.1f}-{b['max']:.1f})   "
        f"airflow {a['median']:8.1f} {unit} ({a['min']:.1f}-{a['max']:.1f})   ratio {r:.2f}x"
    )


def print_task_costs(costs: dict, top: int = 12) -> None:
    print("  per operator class (tasks, median of summed durations):")
    for name, c in costs["per_operator_class"].items():
        print(f"    {name:<44} {c['tasks']:5d}  {c['sum_median_s']:8.1f} s")
    slowest = sorted(costs["per_task"].items(), key=lambda kv: -kv[1]["median_s"])[:top]
    print("  slowest tasks (median):")
    for task, c in slowest:
        print(f"    {task:<64} {c['median_s']:7.1f} s  {c['operator']}")


def print_dag_test(name: str, r: dict) -> None:
    s, b = r["summary"], r["airflow_breakdown"]
    print(f"\n== dag-test: {name} ({r['project']}), {r['runs_requested']} runs, medians (min-max)")
    print(_row("wall", s["wall_s"], "s"))
    print(_row("peak RSS", s["peak_rss_mib"], "MiB"))
    print(_row("CPU", s["cpu_s"], "s"))
    print(
        f"  airflow process: start to dag.test() {b['until_dag_test_s']['median']:.1f} s, dag.test() "
        f"{b['dag_test_s']['median']:.1f} s (task durations {b['task_sum_s']['median']:.1f} s), "
        f"interpreter start-up + exit {b['startup_and_exit_s']['median']:.1f} s"
    )
    print_task_costs(r["task_costs"])


def print_import(r: dict) -> None:
    print(f"\n== import: {r['dag_file']} in a fresh interpreter, medians (min-max)")
    for label in ("task_runner", "sdk_only"):
        s = r[label]
        p = s["parse_s"]
        print(
            f"  preload {s['preload']:<42} {p['median']:.3f} s ({p['min']:.3f}-{p['max']:.3f}), "
            f"{s['tasks']} tasks, peak RSS {s['peak_rss_mib']['median']:.0f} MiB, n={p['n']}"
        )


def print_scheduler(r: dict) -> None:
    b = r["airflow_breakdown"]
    print(
        f"\n== scheduler ({r['cluster']['executor']}, parallelism {r['cluster']['parallelism']}), {len(r['runs'])} runs, medians (min-max)"
    )
    print(_row("wall", r["summary"]["wall_s"], "s"))
    print(
        f"  DAG run: trigger to final state seen {b['trigger_to_seen_final_s']['median']:.1f} s, run start to first "
        f"task {b['run_start_to_first_task_s']['median']:.1f} s, task durations {b['task_sum_s']['median']:.1f} s"
    )
    print_task_costs(r["task_costs"])


# --------------------------------------------------------------------------- main


def merge(part: str, value: dict, by_key: bool) -> None:
    """Write `value` under `part` of the results file, keeping the other parts (and, for
    `by_key`, the other projects of this part)."""
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[part] = {**results.get(part, {}), **value} if by_key else value
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


PARTS: dict[str, tuple[Callable[[argparse.Namespace, Path], dict], bool]] = {
    "dag-test": (part_dag_test, True),
    "import": (part_import, False),
    "scheduler": (part_scheduler, False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--what", nargs="+", choices=list(PARTS), required=True)
    parser.add_argument("--projects", nargs="+", choices=list(PROJECTS), default=["example", "small", "large"])
    parser.add_argument("--runs", type=int, default=5, help="A/B pairs per project (dag-test) or cluster (scheduler)")
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the work folders (logs, Airflow homes)")
    parser.add_argument("--executor", choices=["LocalExecutor", "CeleryExecutor"], default="LocalExecutor")
    parser.add_argument(
        "--airflow-setting",
        action="append",
        default=[],
        metavar="AIRFLOW__SECTION__KEY=VALUE",
        help="scheduler part: an Airflow setting for every cluster component (repeatable); recorded in the results",
    )
    args = parser.parse_args()
    for part in args.what:
        action, by_key = PARTS[part]
        work = Path(tempfile.mkdtemp(prefix=f"dualengine-run-overhead-{part}-"))
        try:
            key = " ".join([part, *([args.executor] if part == "scheduler" else []), *args.airflow_setting])
            merge(key, action(args, work), by_key)
        except BaseException:
            print(f"{part} failed; its work folder is kept: {work}", file=sys.stderr)
            raise
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
