"""A real Airflow cluster, started by the test that uses it, shaped like a user's.

    cluster = AirflowCluster(tmp / "cluster", venv)
    try:
        cluster.start()
        cluster.create_connection({"connection_id": ..., "conn_type": "duckdb", "host": ...})
        run = cluster.run_dag("dualengine_shop_development")
    finally:
        cluster.stop()

- PostgreSQL 15 metadata DB (tests/pg_server.py), Redis broker (Debian's redis-server),
  CeleryExecutor; `airflow api-server`, `scheduler`, `dag-processor`, `triggerer` and
  `celery worker`, each its own process, all from the cluster venv (tests/cluster/install.py).
- A private AIRFLOW_HOME; copies of the repository's dags/ and transforms/ (the latter
  without its compiled artifact) as the dags folder and DUALENGINE_PROJECT_DIR.
- Before the components start, what the README's cluster section says: `airflow db migrate`,
  `airflow pools set dualengine_warehouse 1 ...`, `dualengine compile <project>`.
- The api-server starts first, then the scheduler, dag-processor, triggerer and worker.
  SimpleAuthManager with a known admin password (its passwords file); a JWT from
  /auth/token for the REST API v2, through which the caller creates connections.
- `stop()` ends every process (also their task processes), Redis and PostgreSQL; it runs
  at exit too, should the caller never get there. `diagnostics()` gives the tail of each
  component's log and of every failed task's log, for failure messages.
- Optional: `extra_projects` (more compiled copies of the project, each edited first, at
  `project_path(name)`) and `extra_dags` (more DAG files), both in place before the
  dag-processor first lists the dags folder; `trigger` / `wait_for_run` for runs that
  overlap, `xcom` and `task_log` to read what a task left behind.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from tests.cluster.install import REPO_ROOT, ClusterVenv
from tests.cluster.processes import ManagedProcess, RedisServer, free_port, tail
from tests.pg_server import PostgresServer

ADMIN_USER = "admin"
POOL = ("dualengine_warehouse", "1", "DuckDB single writer: one task at a time per file")
# Started in this order; stopping asks the worker first.
COMPONENTS = {
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "celery-worker": ["airflow", "celery", "worker"],
}
# The checkout's artifacts stay behind: the cluster compiles its own copy.
_PROJECT_IGNORE = shutil.ignore_patterns("target", "logs", ".cache", "*.duckdb", "*.duckdb.wal", "__pycache__")
_QUERY_SCRIPT = """
import decimal, json, sys
import duckdb
queries = json.load(sys.stdin)
def plain(value):
    return str(value) if isinstance(value, decimal.Decimal) else value
with duckdb.connect(sys.argv[1], read_only=True) as db:
    result = {name: [[plain(v) for v in row] for row in db.execute(sql).fetchall()] for name, sql in queries.items()}
print(json.dumps(result, default=str))
"""


class ClusterError(RuntimeError):
    """The cluster did not start, a component died, or an API call or a run failed."""


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass
class TaskRun:
    task_id: str
    state: str | None
    start: datetime | None
    end: datetime | None
    duration: float | None
    try_number: int
    pool: str | None


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    start: datetime | None
    end: datetime | None
    tasks: list[TaskRun]
    asset_events: list[dict[str, Any]] = field(default_factory=list)
    polled_seconds: float = 0.0  # trigger to a final state, as the test saw it

    @property
    def states(self) -> dict[str, str | None]:
        return {t.task_id: t.state for t in self.tasks}

    @property
    def wall_seconds(self) -> float:
        return (self.end - self.start).total_seconds() if self.start and self.end else float("nan")

    @property
    def task_seconds(self) -> float:
        return sum(t.duration or 0.0 for t in self.tasks)

    def summary(self) -> str:
        counts = dict(Counter(t.state for t in self.tasks))
        ran = [t for t in self.tasks if t.duration]
        return (
            f"{self.dag_id} {self.run_id}: {self.state}; run {self.wall_seconds:.1f} s (trigger to end {self.polled_seconds:.1f} s), "
            f"task durations sum {self.task_seconds:.1f} s over {len(ran)} tasks that ran; states {counts}"
        )

    def table(self) -> str:
        origin = self.start
        rows = [f"{'task':<62} {'state':<16} {'start+s':>8} {'dur s':>7}  pool"]
        for t in sorted(
            self.tasks,
            key=lambda t: (t.start or datetime.max.replace(tzinfo=origin.tzinfo if origin else None), t.task_id),
        ):
            offset = f"{(t.start - origin).total_seconds():8.1f}" if t.start and origin else f"{'-':>8}"
            duration = f"{t.duration:7.1f}" if t.duration is not None else f"{'-':>7}"
            rows.append(f"{t.task_id:<62} {t.state or '-':<16} {offset} {duration}  {t.pool or ''}")
        events = [
            f"asset event {e['uri']} <- {e['source_task_id']}" for e in sorted(self.asset_events, key=lambda e: e["id"])
        ]
        return "\n".join([self.summary(), *rows, *events])


class AirflowCluster:
    """See the module docstring. All paths live under `base`."""

    def __init__(
        self,
        base: Path,
        venv: ClusterVenv,
        *,
        project_source: Path = REPO_ROOT / "transforms",
        dags_source: Path = REPO_ROOT / "dags",
        executor: str = "CeleryExecutor",
        parallelism: int = 4,
        extra_projects: dict[str, Callable[[Path], None] | None] | None = None,
        extra_dags: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ):
        self.base = base
        # Folder name (under `base`) -> edit applied to that copy of the project before it is
        # compiled; file name -> source of a DAG file. Both exist before the dag-processor
        # starts, which lists the dags folder for new files only every few minutes.
        self.extra_projects = dict(extra_projects or {})
        self.extra_dags = dict(extra_dags or {})
        self.extra_env = dict(extra_env or {})  # more settings for every component (e.g. AIRFLOW__DUALENGINE__PROJECTS)
        # "LocalExecutor": no Redis and no celery worker; the scheduler runs the tasks
        # itself, at most `parallelism` at once (benchmarks/run_overhead.py uses it).
        self.executor = executor
        self.parallelism = parallelism
        self.venv = venv
        self.home = base / "airflow"
        self.dags_folder = self.home / "dags"
        self.project = base / "transforms"
        self.warehouse = base / "warehouse" / "shop.duckdb"
        self.logs = base / "component-logs"
        self._project_source, self._dags_source = project_source, dags_source
        self.postgres = PostgresServer()
        self.redis = RedisServer()
        self.components: dict[str, ManagedProcess] = {}
        self.timings: dict[str, float] = {}
        self.password = uuid.uuid4().hex
        self.api_port = free_port()
        self.env: dict[str, str] = {}
        self._token: str | None = None
        self._stopped = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> AirflowCluster:
        """Start everything; each component healthy before this returns."""
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        for folder in (self.home, self.logs, self.warehouse.parent):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self._dags_source, self.dags_folder, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(self._project_source, self.project, ignore=_PROJECT_IGNORE)
        self._add_extras()
        with self.timed("postgres + redis start"):
            self.postgres.start()
            self.postgres.create_database("airflow")
            if self.celery:
                self.redis.start()
        self.env = self._environment()
        (self.home / "simple_auth_manager_passwords.json").write_text(json.dumps({ADMIN_USER: self.password}))
        # The projects compile (no warehouse, no metadata DB) while the metadata DB is migrated.
        projects = [self.project, *(self.project_path(name) for name in self.extra_projects)]
        with ThreadPoolExecutor(max_workers=len(projects)) as pool:
            with self.timed("`dualengine compile` of every project, in parallel with `airflow db migrate`"):
                compiles = [pool.submit(self._compile, project) for project in projects]
                self.cli("airflow", "db", "migrate")
                self.cli("airflow", "pools", "set", *POOL)
                for done in compiles:
                    done.result()
        first, *others = [name for name in COMPONENTS if self.celery or name != "celery-worker"]
        with self.timed(f"{first} up"):
            self._launch(first)
            self._wait_healthy(("metadatabase",))
        self._token = self._login()
        with self.timed(f"{', '.join(others)} up (health endpoint: all healthy)"):
            for name in others:
                self._launch(name)
            self._wait_healthy(("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def _compile(self, project: Path) -> None:
        result = subprocess.run(
            [str(self.venv.bin / "dualengine"), "compile", str(project)],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise ClusterError(
                f"`dualengine compile {project}` failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )

    def project_path(self, name: str) -> Path:
        """Where the extra project `name` (see `extra_projects`) lives."""
        return self.base / name

    def _add_extras(self) -> None:
        for name, edit in self.extra_projects.items():
            copy = self.project_path(name)
            shutil.copytree(self._project_source, copy, ignore=_PROJECT_IGNORE)
            if edit is not None:
                edit(copy)
        for file_name, source in self.extra_dags.items():
            (self.dags_folder / file_name).write_text(source)

    def _launch(self, name: str) -> None:
        self.components[name] = ManagedProcess(
            name, COMPONENTS[name], log=self.logs / f"{name}.log", env=self.env, cwd=self.home
        )

    @property
    def celery(self) -> bool:
        return self.executor == "CeleryExecutor"

    def _environment(self) -> dict[str, str]:
        """The components' environment; see `_airflow_environment` (Celery settings only with Celery)."""
        env = self._airflow_environment()
        if not self.celery:
            del env["AIRFLOW__CELERY__BROKER_URL"], env["AIRFLOW__CELERY__RESULT_BACKEND"]
            env["AIRFLOW__CORE__PARALLELISM"] = str(self.parallelism)
        return env

    def _airflow_environment(self) -> dict[str, str]:
        from cryptography.fernet import Fernet

        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "_AIRFLOW", "DUALENGINE", "SQLMESH", "VIRTUAL_ENV"))
            and k not in ("PYTHONPATH", "PYTHONHOME")
        }
        metadata = self.postgres.url_for("airflow").replace("postgresql://", "postgresql+psycopg2://", 1)
        return {
            **inherited,
            "PATH": f"{self.venv.bin}{os.pathsep}{inherited.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url_for("airflow"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),  # 64 characters: HMAC-SHA512 wants 64 bytes
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "simple_auth_manager_passwords.json"),
            # The log servers bind every interface on fixed default ports: pick free ones.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            # Re-parse unchanged DAG files every 10 s instead of 30 s: the test creates the
            # warehouse connection after the first parse and waits for the next one.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
            "DUALENGINE_PROJECT_DIR": str(self.project),
            **self.extra_env,
        }

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        errors: list[str] = []

        def attempt(what: str, action) -> None:
            try:
                action()
            except Exception as exc:  # noqa: BLE001 - stop the others regardless
                errors.append(f"{what}: {exc!r}")

        # All asked to shut down at once (the triggerer alone takes ~10 s), then each waited
        # for and killed with whatever it left. No threads: this also runs from atexit.
        processes = list(reversed(self.components.values()))
        for process in processes:
            attempt(process.name, process.terminate)
        deadline = time.monotonic() + 30
        for process in processes:
            attempt(process.name, lambda p=process: p.reap(deadline))
        attempt("redis", self.redis.stop)
        attempt("postgres", self.postgres.stop)
        atexit.unregister(self.stop)
        if errors:
            raise ClusterError("stopping the cluster: " + "; ".join(errors))

    @contextmanager
    def timed(self, label: str, *, accumulate: bool = False) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[label] = (self.timings.get(label, 0.0) if accumulate else 0.0) + time.monotonic() - began

    # ------------------------------------------------------------------ commands
    def cli(self, *argv: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        """A command of the cluster venv with the cluster's configuration (as an operator
        on a cluster machine would run it)."""
        executable = self.venv.bin / argv[0]
        with self.timed(f"`{' '.join(argv[:2])}` (CLI)", accumulate=True):
            result = subprocess.run(
                [str(executable), *argv[1:]],
                env=self.env,
                cwd=self.home,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        if check and result.returncode != 0:
            raise ClusterError(
                f"`{' '.join(argv)}` failed (exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def warehouse_query(self, queries: dict[str, str]) -> dict[str, list[list[Any]]]:
        """Rows of each query, read from the DuckDB file by the cluster venv's duckdb
        (read-only; run it while no task writes). Decimals come back as strings."""
        with self.timed("warehouse queries", accumulate=True):
            result = subprocess.run(
                [str(self.venv.python), "-c", _QUERY_SCRIPT, str(self.warehouse)],
                input=json.dumps(queries),
                capture_output=True,
                text=True,
                timeout=120,
            )
        if result.returncode != 0:
            raise ClusterError(f"warehouse query failed:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout)

    # ------------------------------------------------------------------ REST API
    def api(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        auth: bool = True,
        expect: tuple[int, ...] = (200,),
    ) -> Any:
        url = f"http://127.0.0.1:{self.api_port}{path}" + (f"?{urlencode(params)}" if params else "")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            url, data=None if body is None else json.dumps(body).encode(), headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, exc.read()
        if status not in expect:
            raise ClusterError(f"{method} {path} -> HTTP {status}: {payload[:3000].decode(errors='replace')}")
        return json.loads(payload) if payload else None

    def _login(self) -> str:
        return self.api(
            "POST", "/auth/token", {"username": ADMIN_USER, "password": self.password}, auth=False, expect=(200, 201)
        )["access_token"]

    def _wait_healthy(self, parts: tuple[str, ...], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            self.check_components()
            try:
                last = self.api("GET", "/api/v2/monitor/health", auth=False)
                if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                    return
            except (OSError, ClusterError) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"components not healthy after {timeout:.0f} s (last health: {last})\n{self.diagnostics()}"
                )
            time.sleep(1)

    def check_components(self) -> None:
        dead = [f"{name} {p.describe_exit()}" for name, p in self.components.items() if not p.alive()]
        if dead:
            raise ClusterError(f"Airflow component died: {', '.join(dead)}\n{self.diagnostics()}")

    def create_connection(self, connection: dict[str, Any]) -> dict[str, Any]:
        return self.api("POST", "/api/v2/connections", connection, expect=(201,))

    def import_errors(self) -> dict[str, str]:
        """DAG file -> the import error the UI shows for it."""
        return {
            e["filename"]: e["stack_trace"]
            for e in self.api("GET", "/api/v2/importErrors", params={"limit": 100})["import_errors"]
        }

    def wait_for_import_errors(self, files: set[str], timeout: float = 120) -> dict[str, str]:
        """The import errors of `files` (names within the dags folder), once the
        dag-processor has recorded one for each."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_components()
            found = {name: text for name, text in self.import_errors().items() if Path(name).name in files}
            if {Path(name).name for name in found} >= files or time.monotonic() > deadline:
                return found
            time.sleep(1)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict[str, Any]:
        """The DAG as the API serves it once the dag-processor has parsed it without an
        import error; import errors still there at the timeout are in the failure."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_components()
            try:
                return self.api("GET", f"/api/v2/dags/{dag_id}")
            except ClusterError as exc:
                if "HTTP 404" not in str(exc):
                    raise
            if time.monotonic() > deadline:
                errors = "\n".join(f"{name}:\n{text}" for name, text in self.import_errors().items())
                raise ClusterError(
                    f"DAG {dag_id} not parsed after {timeout:.0f} s\nimport errors:\n{errors or '(none)'}\n{self.diagnostics()}"
                )
            time.sleep(1)

    def run_dag(self, dag_id: str, timeout: float = 900) -> DagRunResult:
        """Unpause, trigger, wait for a final state; the run with its task instances and
        the Asset events it emitted, all read through the REST API."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        began = time.monotonic()
        run_id = self.trigger(dag_id)
        return self.wait_for_run(dag_id, run_id, timeout=timeout, began=began)

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str) -> str:
        """A new run of an unpaused DAG, not waited for (see `wait_for_run`); its run id."""
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.api("GET", _run_path(dag_id, run_id))["state"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900, began: float | None = None) -> DagRunResult:
        """Wait for the run's final state; the run with its task instances and Asset events.
        `began` (time.monotonic() at the trigger) makes `polled_seconds` trigger-to-end."""
        began = time.monotonic() if began is None else began
        run_path = _run_path(dag_id, run_id)
        while True:
            self.check_components()
            run = self.api("GET", run_path)
            if run["state"] in ("success", "failed"):
                break
            if time.monotonic() - began > timeout:
                raise ClusterError(
                    f"{dag_id} still {run['state']} after {timeout:.0f} s: {self._task_states(run_path)}\n{self.diagnostics()}"
                )
            time.sleep(2)
        polled = time.monotonic() - began
        events = self.api(
            "GET", "/api/v2/assets/events", params={"source_dag_id": dag_id, "source_run_id": run_id, "limit": 1000}
        )["asset_events"]
        return DagRunResult(
            dag_id,
            run_id,
            run["state"],
            _time(run["start_date"]),
            _time(run["end_date"]),
            self.task_instances(dag_id, run_id),
            events,
            polled,
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskRun]:
        """The run's task instances as they are now (state, latest try number, pool)."""
        return [
            TaskRun(
                t["task_id"],
                t["state"],
                _time(t["start_date"]),
                _time(t["end_date"]),
                t["duration"],
                t["try_number"],
                t.get("pool"),
            )
            for t in self.api("GET", f"{_run_path(dag_id, run_id)}/taskInstances", params={"limit": 1000})[
                "task_instances"
            ]
        ]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str) -> Any:
        """The XCom value a task pushed under `key`, or None when it pushed none."""
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{quote(task_id, safe='')}/xcomEntries/{quote(key, safe='')}"
        try:
            return self.api("GET", path)["value"]
        except ClusterError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log file of that try, as the executor wrote it on this machine."""
        log = (
            self.home
            / "logs"
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={task_id}"
            / f"attempt={try_number}.log"
        )
        return log.read_text(errors="replace") if log.is_file() else ""

    def _task_states(self, run_path: str) -> dict[str, str]:
        return {
            t["task_id"]: t["state"]
            for t in self.api("GET", f"{run_path}/taskInstances", params={"limit": 1000})["task_instances"]
        }

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self, run: DagRunResult | None = None, lines: int = 40) -> str:
        """Tails of every component's log (and Redis's, PostgreSQL's), and of the log of
        each failed task of `run`."""
        parts = [
            f"--- {name} ({p.describe_exit()}): {p.log} ---\n{tail(p.log, lines)}"
            for name, p in self.components.items()
        ]
        if self.redis.base_dir is not None:
            parts.append(f"--- redis ---\n{tail(self.redis.log, 10)}")
        if self.postgres.base_dir is not None:
            parts.append(f"--- postgres ---\n{tail(self.postgres.log_file, 10)}")
        for task in run.tasks if run else []:
            if task.state == "failed":
                for log in sorted(
                    self.home.glob(f"logs/dag_id={run.dag_id}/run_id=*/task_id={task.task_id}/attempt=*.log")
                ):
                    parts.append(f"--- task {task.task_id}: {log} ---\n{tail(log, lines)}")
        return "\n".join(parts)
