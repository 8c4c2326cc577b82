"""Contention proof (issue 19, part 4): many runs of the example DAG at once on a real
scheduler, and what the warehouse and the pools went through.

    export SQLMESH__DISABLE_ANONYMIZED_ANALYTICS=1 AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
    export DUALENGINE_CLUSTER_VENV_CACHE=/tmp/dualengine-venv-cache
    .venv/bin/python benchmarks/contention.py [--runs 10] [--scenario postgres|duckdb|both] [--keep]

Per scenario, one cluster (tests/cluster: the wheel in a venv, PostgreSQL metadata DB,
LocalExecutor with `--parallelism` task slots, api-server / scheduler / dag-processor /
triggerer), the warehouse connection created through the REST API, the pools of
`config/resources.yml` created by `dualengine resources apply` when the project has one,
then for each mode `--runs` runs triggered through the REST API at once (logical_date
None) and waited for:

- `shipped`: the example DAG `dualengine_shop_development` as it ships (its
  `max_active_runs` decides how many of the runs work at once);
- `overlapping`: the same project and DAG with `max_active_runs = --runs` (DAG id
  `dualengine_shop_development_overlapping`): every run works at once and only the pools
  stand between the engines and the warehouse.

Scenarios: `postgres` (the example switched to PostgreSQL as tests/e2e/on_cluster does,
the warehouse a throw-away database on its own PostgreSQL server with `log_lock_waits`)
and `duckdb` (the example as is: one file, the one-slot writer pool).

Measured, from the REST API and the cluster's log files (not from configuration):
- every task instance's start/end: the most tasks running at once per pool and per engine
  (and queued-to-end, which is how long a task holds its pool slot), against each pool's
  slots from `/api/v2/pools`; `/api/v2/pools` sampled every poll as a cross-check;
- every task log (all attempts) for lock errors (LOCK_PATTERNS) and pool errors; the
  scheduler's log for pool errors and for its "no open slots" waits (back-pressure, the
  pool doing its job, counted but not errors); the warehouse server's log for ERROR
  lines and lock waits, and its `pg_stat_database.deadlocks`;
- task failures and retries (try_number > 1), runs not successful, wall time from the
  first trigger to the last run's end.

Results merge into benchmarks/results/contention.json by scenario. Everything the
script starts is stopped on exit (also on SIGTERM); `--keep` keeps the work folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import REPO  # noqa: E402

sys.path.insert(0, str(REPO))
from tests.cluster import AirflowCluster, ClusterError, build_wheel, install_cluster_venv  # noqa: E402
from tests.cluster.airflow_cluster import ADMIN_USER  # noqa: E402
from tests.pg_server import PostgresServer  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "contention.json"
DAG_FILE = REPO / "dags" / "dualengine_example.py"
EXAMPLE_DAG = "dualengine_shop_development"
OVERLAP_DAG = f"{EXAMPLE_DAG}_overlapping"
ENVIRONMENT = "development"
DUCKDB_CONN = "dualengine_warehouse"
PG_CONN = "dualengine_warehouse_pg"  # as tests/e2e/on_cluster/conftest.py's to_postgres
PG_DATABASE = "shop"
MODES = ("shipped", "overlapping")
ARTIFACTS = shutil.ignore_patterns("target", "logs", ".cache", "*.duckdb", "*.duckdb.wal", "__pycache__")

# Lock errors: DuckDB's single-writer lock, PostgreSQL's lock and serialization failures,
# SQLite's (the metadata DB of a demo). Matched case-insensitively on every log line.
LOCK_PATTERNS = {
    "duckdb: could not set lock": r"could not set lock",
    "duckdb: conflicting lock is held": r"conflicting lock is held",
    "postgres: deadlock detected": r"deadlock detected",
    "postgres: could not obtain lock": r"could not obtain lock",
    "postgres: could not serialize access": r"could not serialize access",
    "postgres: lock timeout": r"due to lock timeout|locknotavailable",
    "sqlite: database is locked": r"database is locked",
}
LOCK_RE = re.compile("|".join(f"(?:{p})" for p in LOCK_PATTERNS.values()), re.IGNORECASE)
# Pool errors a task log or the scheduler can show (a task never scheduled, or asking
# for more slots than its pool has); "no open slots" is the scheduler waiting, not an error.
POOL_ERROR_RE = re.compile(
    r"non-existent pool|greater than total pool slots|pool .{0,80} (?:not found|does not exist)|not enough slots",
    re.IGNORECASE,
)
POOL_WAIT_RE = re.compile(
    r"Not scheduling since there are -?\d+ open slots in pool (\S+)"
    r"|since it requires \d+ slots but there are -?\d+ open slots in the pool (\S+)"
)


# --------------------------------------------------------------------------- facts


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine() -> dict:
    mem_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    import platform

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1) if mem_kib else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_facts() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.rstrip("\n")

    changed = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": changed.splitlines() if changed else []}


def venv_versions(venv) -> dict:
    script = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        "for d in ('apache-airflow', 'sqlmesh', 'dbt-core', 'astronomer-cosmos', 'duckdb', 'psycopg2-binary'):\n"
        "    try:\n        out[d] = m.version(d)\n"
        "    except m.PackageNotFoundError:\n        out[d] = None\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([str(venv.python), "-c", script], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


# --------------------------------------------------------------------------- classification


def engine_of(operator: str | None) -> str:
    """The engine a task works for, by operator class: SQLMesh* -> sqlmesh, Dbt* -> dbt
    (also Cosmos' Dbt*Operator), Contract* -> contracts, anything else (sensors, gates,
    joins, alerts) -> other."""
    name = operator or ""
    if name.startswith("SQLMesh"):
        return "sqlmesh"
    if name.startswith("Dbt"):
        return "dbt"
    if name.startswith("Contract"):
        return "contracts"
    return "other"


def runs_engine(operator: str | None) -> bool:
    """Whether the task runs the engine itself (a plan, run or build), as opposed to the
    per-model tasks that report what the stage's engine task did."""
    name = operator or ""
    return engine_of(name) in ("sqlmesh", "dbt") and not name.endswith("ModelOperator")


# --------------------------------------------------------------------------- occupancy


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def max_concurrent(intervals: list[tuple[datetime, datetime]]) -> dict:
    """The most intervals open at one moment (an end at the same instant as a start closes
    first), and when that was first reached."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda ev: (ev[0], ev[1]))
    current = peak = 0
    at: datetime | None = None
    for moment, delta in events:
        current += delta
        if current > peak:
            peak, at = current, moment
    return {"max": peak, "first_at": at.isoformat() if at else None, "intervals": len(intervals)}


def ran(task: dict) -> bool:
    """A task that really ran (EmptyOperator joins are marked done without a process)."""
    start, end = _t(task["start_date"]), _t(task["end_date"])
    return bool(start and end and end > start and task.get("operator") != "EmptyOperator")


def occupancy(tasks: list[dict], pools: dict[str, dict], allocation: dict[str, Any]) -> dict:
    """Per pool: most tasks running at once (start..end) and holding a slot (queued..end),
    against the pool's slots; per engine: most tasks running at once, all and engine-only."""
    per_pool: dict[str, dict[str, list]] = defaultdict(lambda: {"running": [], "holding": []})
    per_engine: dict[str, dict[str, list]] = defaultdict(lambda: {"all": [], "engine_runs": []})
    for t in tasks:
        if not ran(t):
            continue
        start, end = _t(t["start_date"]), _t(t["end_date"])
        queued = _t(t.get("queued_when")) or start
        pool = t.get("pool") or "default_pool"
        per_pool[pool]["running"].append((start, end))
        per_pool[pool]["holding"].append((min(queued, start), end))
        engine = engine_of(t.get("operator"))
        per_engine[engine]["all"].append((start, end))
        if runs_engine(t.get("operator")):
            per_engine[engine]["engine_runs"].append((start, end))
    pool_rows = {}
    for name, spans in sorted(per_pool.items()):
        slots = (pools.get(name) or {}).get("slots")
        running, holding = max_concurrent(spans["running"]), max_concurrent(spans["holding"])
        pool_rows[name] = {
            "slots": slots,
            "max_running": running["max"],
            "max_running_first_at": running["first_at"],
            "max_holding_slot": holding["max"],
            "tasks": running["intervals"],
            "exceeded": slots is not None and slots >= 0 and max(running["max"], holding["max"]) > slots,
        }
    engine_rows = {}
    for name, spans in sorted(per_engine.items()):
        alloc = allocation.get(name) or {}
        engine_rows[name] = {
            "max_running": max_concurrent(spans["all"])["max"],
            "max_running_engine_tasks": max_concurrent(spans["engine_runs"])["max"],
            "tasks": len(spans["all"]),
            "allocation_pool": alloc.get("pool"),
            "allocation_slots": alloc.get("slots"),
        }
    return {"per_pool": pool_rows, "per_engine": engine_rows}


# --------------------------------------------------------------------------- logs


def read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def log_event(line: str) -> str:
    """A structured (JSON) task log line's event text, else the line; at most 400 characters."""
    text = line.strip()
    if text.startswith("{"):
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            return text[:400]
        detail = record.get("error_detail") or []
        errors = [f"{e.get('exc_type')}: {e.get('exc_value')}" for e in detail if isinstance(e, dict)]
        text = " ".join([f"[{record.get('level', '')}]", str(record.get("event", "")), *errors])
    return text[:400]


def failure_samples(cluster: AirflowCluster, dag_id: str, failed: list[dict], limit: int = 10) -> list[dict]:
    """For each failed task (up to `limit`): the error lines of its last attempt's log."""
    samples = []
    for task in failed[:limit]:
        logs = sorted(
            cluster.home.glob(f"logs/dag_id={dag_id}/run_id={task['run_id']}/task_id={task['task_id']}/attempt=*.log")
        )
        lines = logs[-1].read_text(errors="replace").splitlines() if logs else []
        events = [log_event(line) for line in lines]
        errors = [e for e in events if e.startswith("[error]") or "Error" in e]
        samples.append({**task, "errors": errors[-5:]})
    return samples


def scan_task_logs(cluster: AirflowCluster, dag_id: str, run_ids: set[str]) -> dict:
    """Every attempt's log of the runs' tasks: lock-error and pool-error lines."""
    lock_hits: list[dict] = []
    pool_hits: list[dict] = []
    files = 0
    for log in sorted(cluster.home.glob(f"logs/dag_id={dag_id}/run_id=*/task_id=*/attempt=*.log")):
        run_id = log.parent.parent.name.removeprefix("run_id=")
        if run_id not in run_ids:
            continue
        files += 1
        for line in log.read_text(errors="replace").splitlines():
            where = {
                "run_id": run_id,
                "task_id": log.parent.name.removeprefix("task_id="),
                "attempt": log.stem.removeprefix("attempt="),
            }
            if LOCK_RE.search(line):
                lock_hits.append({**where, "line": log_event(line)})
            if POOL_ERROR_RE.search(line):
                pool_hits.append({**where, "line": log_event(line)})
    by_pattern = Counter(
        label for hit in lock_hits for label, p in LOCK_PATTERNS.items() if re.search(p, hit["line"], re.IGNORECASE)
    )
    return {
        "task_log_files": files,
        "lock_error_lines": len(lock_hits),
        "lock_errors_by_pattern": dict(by_pattern),
        "lock_error_samples": lock_hits[:20],
        "pool_error_lines": len(pool_hits),
        "pool_error_samples": pool_hits[:20],
    }


def scan_components(cluster: AirflowCluster, offsets: dict[str, int]) -> dict:
    """The components' logs since `offsets`: lock errors anywhere, pool errors and the
    scheduler's waits for an open slot (per pool)."""
    lock_hits: list[dict] = []
    pool_errors: list[dict] = []
    waits: Counter = Counter()
    for name, process in cluster.components.items():
        for line in read_from(process.log, offsets.get(name, 0)).splitlines():
            if LOCK_RE.search(line):
                lock_hits.append({"component": name, "line": line.strip()[:400]})
            if POOL_ERROR_RE.search(line):
                pool_errors.append({"component": name, "line": line.strip()[:400]})
            if name == "scheduler" and (m := POOL_WAIT_RE.search(line)):
                waits[(m.group(1) or m.group(2)).rstrip(".,'\"")] += 1
    return {
        "lock_error_lines": len(lock_hits),
        "lock_error_samples": lock_hits[:20],
        "pool_error_lines": len(pool_errors),
        "pool_error_samples": pool_errors[:20],
        "scheduler_no_open_slot_waits_per_pool": dict(waits),
    }


def component_offsets(cluster: AirflowCluster) -> dict[str, int]:
    return {name: size(process.log) for name, process in cluster.components.items()}


# --------------------------------------------------------------------------- the warehouse


class Warehouse:
    """Where the runs write: a DuckDB file (the cluster's) or a database on a PostgreSQL
    server of its own (so its log holds the warehouse's errors and lock waits only)."""

    def __init__(self, kind: str):
        self.kind = kind
        self.server: PostgresServer | None = None
        self._log_offset = 0

    @property
    def conn_id(self) -> str:
        return PG_CONN if self.kind == "postgres" else DUCKDB_CONN

    def start(self) -> None:
        if self.kind == "postgres":
            # deadlock_timeout (1 s) is also when a waiting lock is logged
            self.server = PostgresServer(settings={"log_lock_waits": "on", "max_connections": "200"})
            self.server.start()
            self.server.create_database(PG_DATABASE)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def connection(self, cluster: AirflowCluster) -> dict[str, Any]:
        if self.kind == "duckdb":
            return {"connection_id": DUCKDB_CONN, "conn_type": "duckdb", "host": str(cluster.warehouse)}
        assert self.server is not None
        return {
            "connection_id": PG_CONN,
            "conn_type": "postgres",
            "host": self.server.host,
            "port": self.server.port,
            "login": self.server.user,
            "password": self.server.password,
            "schema": PG_DATABASE,
        }

    def mark(self) -> dict:
        """Before a mode: where the server log stands, and the deadlock counter."""
        if self.server is None:
            return {}
        self._log_offset = size(self.server.log_file)
        return {"deadlocks": self._deadlocks()}

    def report(self, before: dict) -> dict:
        """After a mode: the server's ERROR lines and lock waits since `mark()`, deadlocks."""
        if self.server is None:
            return {"kind": "duckdb (the cluster's file, one-slot writer pool)"}
        errors: Counter = Counter()
        lock_waits = 0
        samples: list[str] = []
        for line in read_from(self.server.log_file, self._log_offset).splitlines():
            lock_waits += "still waiting for" in line
            if "ERROR:" in line:
                message = line.split("ERROR:", 1)[1].strip()
                errors[re.sub(r'"[^"]*"|\d+', "?", message)[:160]] += 1
                if len(samples) < 20:
                    samples.append(line.strip()[:400])
        return {
            "kind": "postgres (own server, log_lock_waits on, deadlock_timeout 1 s)",
            "server_error_lines": sum(errors.values()),
            "server_errors_by_message": dict(errors.most_common(20)),
            "server_error_samples": samples,
            "server_lock_waits_logged": lock_waits,
            "server_lock_error_lines": sum(n for m, n in errors.items() if LOCK_RE.search(m)),
            "pg_stat_database_deadlocks": self._deadlocks() - before.get("deadlocks", 0),
        }

    def _deadlocks(self) -> int:
        assert self.server is not None
        db = self.server.connect(PG_DATABASE, autocommit=True)
        try:
            with db.cursor() as cursor:
                cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (PG_DATABASE,))
                return int(cursor.fetchone()[0])
        finally:
            db.close()


# --------------------------------------------------------------------------- project and pools


def prepare_project(kind: str, work: Path) -> Path:
    """A copy of transforms/ for the scenario: as is (DuckDB), or on the PostgreSQL
    connection (tests/e2e/on_cluster/conftest.py's `to_postgres`)."""
    project = work / f"transforms-{kind}"
    shutil.copytree(REPO / "transforms", project, ignore=ARTIFACTS)
    if kind == "postgres":
        from tests.e2e.on_cluster.conftest import PG_CONN_ID, to_postgres

        assert PG_CONN_ID == PG_CONN
        to_postgres(project)
    return project


def prepare_dags(work: Path, runs: int) -> tuple[Path, dict[str, str]]:
    """The example DAG file only, and the overlapping variant of it."""
    dags = work / "dags"
    dags.mkdir()
    shutil.copy2(DAG_FILE, dags / DAG_FILE.name)
    overlap = (
        '"""The example DAG with every triggered run active at once (benchmarks/contention.py)."""\n\n'
        "import os\n\n"
        "from airflow_provider_dualengine import build_dag\n\n"
        f'dag = build_dag(os.environ["DUALENGINE_PROJECT_DIR"], dag_id={OVERLAP_DAG!r})\n'
        f"dag.max_active_runs = {runs}\n"
    )
    return dags, {"dualengine_example_overlapping.py": overlap}


def pools(cluster: AirflowCluster) -> dict[str, dict]:
    return {p["name"]: p for p in cluster.api("GET", "/api/v2/pools", params={"limit": 100})["pools"]}


def apply_resources(cluster: AirflowCluster) -> dict:
    """With a `config/resources.yml`: `dualengine resources show --json` (each engine's
    allocation now) and `dualengine resources apply --api-url ... --username admin` (the
    pools, through the REST API, as docs/cli.md shows), both as an operator on a cluster
    machine runs them. Without one: the pools as they are."""
    spec = cluster.project / "config" / "resources.yml"
    if not spec.is_file():
        return {"resources_yml": False, "how": "no config/resources.yml: the pools as the cluster has them"}
    project = str(cluster.project)
    shown = cluster.cli("dualengine", "resources", "show", project, "-e", ENVIRONMENT, "--json", check=False)
    allocation = json.loads(shown.stdout) if shown.returncode == 0 else {}
    api_url = f"http://127.0.0.1:{cluster.api_port}"
    argv = ["resources", "apply", project, "-e", ENVIRONMENT, "--api-url", api_url, "--username", ADMIN_USER]
    applied = subprocess.run(
        [str(cluster.venv.bin / "dualengine"), *argv],
        env={**cluster.env, "DUALENGINE_API_PASSWORD": cluster.password},
        cwd=cluster.home,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    how = "dualengine " + " ".join(argv).replace(project, "<project>")
    if applied.returncode != 0:
        if shown.returncode != 0:
            raise ClusterError(
                f"`{how}` failed:\n{applied.stdout[-3000:]}\n{applied.stderr[-3000:]}\n"
                f"and `resources show --json` too:\n{shown.stderr[-3000:]}"
            )
        how = f"REST POST /api/v2/pools from `resources show --json` (apply failed: {applied.stderr.strip()[-300:]})"
        for engine in engine_allocations(allocation).values():
            if engine.get("pool") and engine.get("slots"):
                body = {"name": engine["pool"], "slots": engine["slots"], "include_deferred": False}
                cluster.api("POST", "/api/v2/pools", body, expect=(201, 409))
    return {
        "resources_yml": True,
        "how": how,
        "apply_output": (applied.stdout + applied.stderr).strip()[-2000:],
        "show_json": allocation,
    }


def engine_allocations(shown: Any) -> dict[str, dict]:
    """Engine -> {pool, slots} from `resources show --json`, whatever its nesting
    (a list of engine rows, or a mapping by engine)."""
    found: dict[str, dict] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("engine") in ("sqlmesh", "dbt") and "pool" in node:
                found.setdefault(node["engine"], {"pool": node.get("pool"), "slots": node.get("slots")})
            for key, value in node.items():
                if key in ("sqlmesh", "dbt") and isinstance(value, dict) and "pool" in value:
                    found.setdefault(key, {"pool": value.get("pool"), "slots": value.get("slots")})
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(shown)
    return found


# --------------------------------------------------------------------------- one mode


def run_tasks(cluster: AirflowCluster, dag_id: str, run_id: str) -> list[dict]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
    fields = ("task_id", "state", "operator", "pool", "start_date", "end_date", "queued_when", "try_number", "duration")
    return [
        {"run_id": run_id, **{k: t.get(k) for k in fields}}
        for t in cluster.api("GET", path, params={"limit": 1000})["task_instances"]
    ]


def run_mode(
    cluster: AirflowCluster, warehouse: Warehouse, dag_id: str, runs: int, allocation: dict, timeout: float
) -> dict:
    cluster.wait_for_dag(dag_id, timeout=300)
    cluster.unpause(dag_id)
    dag = cluster.api("GET", f"/api/v2/dags/{dag_id}")
    before_pools = pools(cluster)
    offsets = component_offsets(cluster)
    pg_before = warehouse.mark()
    load_before = os.getloadavg()
    print(f"  {dag_id}: triggering {runs} runs (max_active_runs {dag.get('max_active_runs')}) ...", flush=True)
    first_trigger = datetime.now(UTC)
    began = time.monotonic()
    run_ids = [cluster.trigger(dag_id) for _ in range(runs)]
    trigger_span = time.monotonic() - began
    sampled: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    active_runs_seen = 0
    final: dict[str, dict] = {}
    while True:
        cluster.check_components()
        for name, p in pools(cluster).items():
            for key in ("running_slots", "queued_slots", "occupied_slots", "deferred_slots"):
                sampled[name][key] = max(sampled[name][key], p.get(key) or 0)
        listed = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]
        mine = {r["dag_run_id"]: r for r in listed if r["dag_run_id"] in run_ids}
        active_runs_seen = max(active_runs_seen, sum(r["state"] == "running" for r in mine.values()))
        final = {i: r for i, r in mine.items() if r["state"] in ("success", "failed")}
        if len(final) == runs:
            break
        if time.monotonic() - began > timeout:
            states = Counter(r["state"] for r in mine.values())
            raise ClusterError(
                f"{dag_id}: runs not done after {timeout:.0f} s: {dict(states)}\n{cluster.diagnostics()}"
            )
        time.sleep(1.5)
    polled = time.monotonic() - began
    tasks = [t for run_id in run_ids for t in run_tasks(cluster, dag_id, run_id)]
    after_pools = pools(cluster)
    run_rows = []
    for run_id in run_ids:
        r = final[run_id]
        start, end = _t(r["start_date"]), _t(r["end_date"])
        run_rows.append(
            {
                "run_id": run_id,
                "state": r["state"],
                "start": r["start_date"],
                "end": r["end_date"],
                "wall_s": (end - start).total_seconds() if start and end else None,
                "trigger_to_start_s": (start - first_trigger).total_seconds() if start else None,
            }
        )
    ends = [_t(r["end"]) for r in run_rows if r["end"]]
    run_spans = [(_t(r["start"]), _t(r["end"])) for r in run_rows if r["start"] and r["end"]]
    states = Counter(t["state"] for t in tasks)
    retried = [
        {"run_id": t["run_id"], "task_id": t["task_id"], "try_number": t["try_number"], "state": t["state"]}
        for t in tasks
        if (t["try_number"] or 0) > 1
    ]
    failed = [
        {"run_id": t["run_id"], "task_id": t["task_id"], "state": t["state"]}
        for t in tasks
        if t["state"] not in ("success", "skipped")
    ]
    result = {
        "dag_id": dag_id,
        "max_active_runs": dag.get("max_active_runs"),
        "runs": runs,
        "runs_succeeded": sum(r["state"] == "success" for r in run_rows),
        "wall_s_first_trigger_to_last_run_end": (max(ends) - first_trigger).total_seconds() if ends else None,
        "trigger_seconds_all_runs": trigger_span,
        "polled_seconds": polled,
        "max_runs_running_at_once": max_concurrent(run_spans)["max"],
        "max_runs_running_at_once_sampled": active_runs_seen,
        "task_instances": len(tasks),
        "task_states": dict(states),
        "task_failures": failed,
        "task_failure_samples": failure_samples(cluster, dag_id, [f for f in failed if f["state"] == "failed"]),
        "task_retries": retried,
        "pools": {
            name: {"slots": p["slots"], "sampled_max": dict(sampled.get(name, {}))} for name, p in after_pools.items()
        },
        **occupancy(tasks, before_pools, allocation),
        "task_logs": scan_task_logs(cluster, dag_id, set(run_ids)),
        "components": scan_components(cluster, offsets),
        "warehouse": warehouse.report(pg_before),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "run_rows": run_rows,
        "tasks": tasks,
    }
    result["verdict"] = verdict(result, warehouse.kind)
    print_mode(result)
    return result


def verdict(r: dict, kind: str) -> dict:
    lock_errors = (
        r["task_logs"]["lock_error_lines"]
        + r["components"]["lock_error_lines"]
        + r["warehouse"].get("server_lock_error_lines", 0)
        + r["warehouse"].get("pg_stat_database_deadlocks", 0)
    )
    slot_errors = r["task_logs"]["pool_error_lines"] + r["components"]["pool_error_lines"]
    exceeded = sorted(name for name, row in r["per_pool"].items() if row["exceeded"])
    out = {
        "all_runs_succeeded": r["runs_succeeded"] == r["runs"],
        "lock_errors": lock_errors,
        "slot_errors": slot_errors,
        "task_failures": len(r["task_failures"]),
        "task_retries": len(r["task_retries"]),
        "pools_above_slots": exceeded,
    }
    if kind == "duckdb":
        writer = r["per_pool"].get(DUCKDB_CONN, {})
        out["writer_pool_max_running"] = writer.get("max_running")
        out["writer_pool_max_holding_slot"] = writer.get("max_holding_slot")
    out["holds"] = (
        out["all_runs_succeeded"]
        and not lock_errors
        and not slot_errors
        and not out["task_failures"]
        and not out["task_retries"]
        and not exceeded
    )
    return out


def print_mode(r: dict) -> None:
    v = r["verdict"]
    print(
        f"  {r['dag_id']}: {r['runs_succeeded']}/{r['runs']} runs succeeded in "
        f"{r['wall_s_first_trigger_to_last_run_end'] or float('nan'):.0f} s (first trigger to last end); at most "
        f"{r['max_runs_running_at_once']} runs at once; tasks {r['task_states']}",
        flush=True,
    )
    for name, row in r["per_pool"].items():
        print(
            f"    pool {name:<40} slots {row['slots']!s:>4}  max running {row['max_running']:>3}  "
            f"max holding a slot {row['max_holding_slot']:>3}  ({row['tasks']} tasks){'  EXCEEDED' if row['exceeded'] else ''}"
        )
    for name, row in r["per_engine"].items():
        print(
            f"    engine {name:<12} max running {row['max_running']:>3} (engine tasks {row['max_running_engine_tasks']}), "
            f"allocation {row['allocation_pool']} / {row['allocation_slots']}"
        )
    print(
        f"    lock errors {v['lock_errors']}, slot errors {v['slot_errors']}, task failures {v['task_failures']}, "
        f"retries {v['task_retries']}, scheduler waits for a slot {r['components']['scheduler_no_open_slot_waits_per_pool']}; "
        f"holds: {v['holds']}",
        flush=True,
    )
    for hit in r["task_logs"]["lock_error_samples"][:5]:
        print(f"    lock error: {hit}")
    for failure in r["task_failure_samples"][:5]:
        print(f"    failed: {failure['run_id']} {failure['task_id']}: {failure['errors'][-2:]}")


# --------------------------------------------------------------------------- one scenario


def run_scenario(kind: str, args: argparse.Namespace, work: Path, venv) -> dict:
    began = time.monotonic()
    load_before = os.getloadavg()
    base = work / kind
    base.mkdir()
    project = prepare_project(kind, base)
    dags, extra = prepare_dags(base, args.runs)
    warehouse = Warehouse(kind)
    cluster = AirflowCluster(
        base / "cluster",
        venv,
        project_source=project,
        dags_source=dags,
        executor="LocalExecutor",
        parallelism=args.parallelism,
        extra_dags=extra,
    )
    modes: dict[str, dict] = {}
    try:
        warehouse.start()
        print(f"{kind}: starting the cluster (LocalExecutor, parallelism {args.parallelism}) ...", flush=True)
        cluster.start()
        cluster.create_connection(warehouse.connection(cluster))
        resources = apply_resources(cluster)
        allocation = engine_allocations(resources.get("show_json"))
        setup_s = time.monotonic() - began
        print(f"{kind}: cluster up in {setup_s:.0f} s; resources: {resources['how']}", flush=True)
        for mode in args.modes:
            dag_id = EXAMPLE_DAG if mode == "shipped" else OVERLAP_DAG
            modes[mode] = run_mode(cluster, warehouse, dag_id, args.runs, allocation, args.timeout)
        cluster_timings = dict(cluster.timings)
    except BaseException:
        if cluster.components:
            print(cluster.diagnostics(), file=sys.stderr)
        raise
    finally:
        cluster.stop()
        warehouse.stop()
    return {
        "recorded_at": now(),
        "git": git_facts(),
        "machine": machine(),
        "cluster_venv_versions": venv_versions(venv),
        "cluster": {
            "executor": "LocalExecutor",
            "parallelism": args.parallelism,
            "metadata_db": "PostgreSQL 15 (tests/pg_server.py)",
            "warehouse": (
                "DuckDB file, writer pool dualengine_warehouse (1 slot)"
                if kind == "duckdb"
                else f"PostgreSQL 15, database {PG_DATABASE} on a server of its own"
            ),
        },
        "resources": resources,
        "execution_window": (resources.get("show_json") or {}).get("window"),
        "engine_allocation": allocation,
        "setup_seconds": setup_s,
        "cluster_timings_s": cluster_timings,
        "scenario_seconds": time.monotonic() - began,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "modes": modes,
    }


def merge(kind: str, value: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results[kind] = value
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="runs triggered at once per mode (default 10)")
    parser.add_argument("--scenario", choices=["postgres", "duckdb", "both"], default="both")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--parallelism", type=int, default=8, help="LocalExecutor task slots (default 8)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for a mode's runs")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, Airflow home)")
    args = parser.parse_args()
    # SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C, so every `finally` stops its part.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
    os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
    work = Path(tempfile.mkdtemp(prefix="dualengine-contention-"))
    began = time.monotonic()
    venv = None
    failed = False
    try:
        wheel = build_wheel(work / "dist")
        venv = install_cluster_venv(work / "venv", wheel)
        print(f"venv ready (cached: {venv.cached}) in {time.monotonic() - began:.0f} s", flush=True)
        for kind in ("postgres", "duckdb") if args.scenario == "both" else (args.scenario,):
            result = run_scenario(kind, args, work, venv)
            result["options"] = {"runs": args.runs, "modes": args.modes, "parallelism": args.parallelism}
            merge(kind, result)
            print(f"{kind}: done in {result['scenario_seconds'] / 60:.1f} min; wrote {RESULTS}", flush=True)
    except BaseException:
        failed = True
        raise
    finally:
        if venv is not None:
            venv.remove()
        if args.keep or failed:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        print(f"total {(time.monotonic() - began) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
