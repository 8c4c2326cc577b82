"""Build a project in a throwaway warehouse with the pipeline's own stage executors.

The DAG factory renders the project (`build_dag`, one SQLMesh plan and one `dbt build`
per stage); those executor tasks run here in stage order against a fresh DuckDB file that
the project's warehouse connection points at for the duration, so what is tested is what
the pipeline runs, on no one's data. A model whose input failed is not attempted: it is
reported as blocked by that input.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.graph.lineage import NodeKey, node_id

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project
    from airflow_provider_dualengine.graph.model import UnifiedGraph

DAG_ID = "dualengine_test"


@dataclass
class ModelOutcome:
    key: NodeKey
    status: str  # built | failed | blocked
    message: str = ""
    tests_failed: list[str] = field(default_factory=list)  # dbt tests / SQLMesh audits that failed
    exists: bool = False  # its relation was written (it built, though its tests may have failed)


@dataclass
class BuildResult:
    outcomes: dict[NodeKey, ModelOutcome] = field(default_factory=dict)
    seconds: dict[NodeKey, float] = field(default_factory=dict)  # per model, as the engines reported
    unit_tests: list[tuple[str, str | None]] = field(default_factory=list)  # (test, failure or None)


@contextmanager
def throwaway_warehouse(project: Project) -> Iterator[Path]:
    """The project's warehouse connection pointed at a new DuckDB file for the block."""
    from airflow_provider_dualengine.engines.process import temporary_environ
    from airflow_provider_dualengine.hooks.connections import get_connection

    require_duckdb(project)
    conn_id = project.settings.warehouse.conn_id
    with tempfile.TemporaryDirectory(prefix="dualengine-test-") as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        connection = json.dumps({"conn_type": "duckdb", "host": str(db)})
        with temporary_environ({f"AIRFLOW_CONN_{conn_id.upper()}": connection, "DUALENGINE_CACHE_DIR": tmp}):
            # A secrets backend (Vault, AWS...) is asked before environment variables: if it
            # holds the connection, the engines would write to the real warehouse.
            resolved = get_connection(conn_id)
            if (resolved.conn_type, resolved.host) != ("duckdb", str(db)):
                raise DualEngineConfigError(
                    [
                        ConfigIssue(
                            project.files["settings"],
                            "warehouse.conn_id",
                            f"connection '{conn_id}' still resolves to {resolved.conn_type} {resolved.host!r} "
                            "(a secrets backend answers before environment variables): refusing to build there",
                            "run dualengine test where no secrets backend holds the warehouse connection (a CI job)",
                        )
                    ]
                )
            yield db


def require_duckdb(project: Project) -> None:
    """The throwaway warehouse is a DuckDB file: a project on another warehouse is refused
    before anything runs."""
    settings = project.settings.warehouse
    if settings.type != "duckdb":
        raise DualEngineConfigError(
            [
                ConfigIssue(
                    project.files["settings"],
                    "warehouse.type",
                    f"dualengine test builds in a throwaway DuckDB file; this project's warehouse is {settings.type}",
                    "run it against a DuckDB copy of the project (a test profile), see docs/testing.md",
                )
            ]
        )


def build(project: Project, graph: UnifiedGraph, environment: str, wanted: set[NodeKey], run_id: str) -> BuildResult:
    """Build `wanted` (all of it must be buildable: its inputs included) stage by stage."""
    from airflow_provider_dualengine.factory import build_dag
    from airflow_provider_dualengine.factory.config import DbtExecution, ExecutionConfig, ProjectConfig, RenderConfig

    dag = build_dag(
        ProjectConfig(str(project.root), environment=environment),
        render_config=RenderConfig(dbt_execution=DbtExecution.STAGE),
        # the unit tests run once, on their own (below), not in every stage's plan
        execution_config=ExecutionConfig(sqlmesh_operator_args={"skip_tests": True}),
        dag_id=DAG_ID,
    )
    result = BuildResult()
    children = _children(graph)
    kinds = {key: node.kind for key, node in graph.models_graph.nodes.items()}
    tasks = dag.topological_sort()
    for task in tasks:
        if task.task_id.endswith(".run_stage"):
            engine, names = Engine.SQLMESH, "select_models"
        elif task.task_id.endswith(".build_stage"):
            engine, names = Engine.DBT, "models"
        else:
            continue
        todo = [m for m in getattr(task, names) or [] if (engine, m) in wanted and (engine, m) not in result.outcomes]
        if not todo:
            continue
        setattr(task, names, todo)
        task.fail_on_model_error = False
        task.deployment_environment = None  # nothing deploys into a throwaway warehouse
        _execute(task, engine, todo, run_id, result, kinds)
        for name in todo:
            outcome = result.outcomes.get((engine, name))
            if outcome is not None and not outcome.exists:
                _block(outcome.key, children, result)
    if any(k[0] is Engine.SQLMESH for k in wanted):
        executor = next(t for t in tasks if t.task_id.endswith(".run_stage"))
        result.unit_tests = _unit_tests(executor, sorted(k[1] for k in wanted if k[0] is Engine.SQLMESH))
    return result


def _execute(
    task: Any, engine: Engine, todo: list[str], run_id: str, result: BuildResult, kinds: dict[NodeKey, str | None]
) -> None:
    ti = SimpleNamespace(dag_id=DAG_ID, run_id=run_id, task_id=task.task_id, try_number=1, max_tries=0)
    try:
        output = task.execute({"ti": ti})
    except Exception as exc:  # noqa: BLE001 - an engine that stops fails its models, with its words
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        for name in todo:
            result.outcomes[(engine, name)] = ModelOutcome((engine, name), "failed", f"{type(exc).__name__}: {first}")
        return
    models = output.get("models") or {}
    failed = set(output.get("failed") or [])
    for name in todo:
        described = models.get(name) or {}
        key = (engine, name)
        if engine is Engine.SQLMESH:
            message = str(described.get("error") or "")
            seconds = described["duration_ms"] / 1000 if described.get("intervals") else None
            tests: list[str] = (
                [f"{described['audits_failed']} audit(s) failed"] if described.get("audits_failed") else []
            )
        else:
            tests = [f"{t.get('test')}: {t.get('message')}" for t in described.get("tests_failed") or []]
            message = str(described.get("message") or "") if described.get("status") == "error" else ""
            if described.get("status") == "tests_failed":
                message = (
                    f"built, but dbt tests failed: {', '.join(t.get('test') or '?' for t in described['tests_failed'])}"
                )
            seconds = described.get("execution_s")
        if name in failed:
            # a dbt model whose tests failed was still built: its readers are built and checked too
            exists = engine is Engine.DBT and described.get("status") == "tests_failed"
            result.outcomes[key] = ModelOutcome(
                key, "failed", message or "failed (see the engine's log)", tests, exists
            )
        elif described.get("status") == "skipped":
            result.outcomes[key] = ModelOutcome(key, "blocked", "not built: SQLMesh skipped it after an input failed")
        elif not described and engine is Engine.DBT and kinds.get(key) != "ephemeral":
            result.outcomes[key] = ModelOutcome(key, "failed", "dbt did not build it (disabled, or not selected)")
        elif not described:
            # an ephemeral dbt model (inlined into its readers), a SQLMesh model embedded in its
            # readers or with no complete interval yet: nothing to evaluate, nothing failed
            result.outcomes[key] = ModelOutcome(
                key, "built", f"nothing to evaluate ({kinds.get(key) or 'no interval due'})", exists=True
            )
        else:
            # a non-blocking SQLMesh audit that failed is a warning: the model stands
            warning = f"warning: {'; '.join(tests)}" if tests else ""
            result.outcomes[key] = ModelOutcome(key, "built", warning, exists=True)
        if seconds is not None:
            result.seconds[key] = float(seconds)


def _children(graph: UnifiedGraph) -> dict[NodeKey, list[NodeKey]]:
    children: dict[NodeKey, list[NodeKey]] = {}
    for edge in graph.models_graph.edges:
        children.setdefault(edge.upstream, []).append(edge.downstream)
    return children


def _block(failed: NodeKey, children: dict[NodeKey, list[NodeKey]], result: BuildResult) -> None:
    stack = list(children.get(failed, []))
    while stack:
        key = stack.pop()
        if key in result.outcomes:
            continue
        result.outcomes[key] = ModelOutcome(key, "blocked", f"not built: its input {node_id(failed)} failed")
        stack.extend(children.get(key, []))


def _unit_tests(executor: Any, models: list[str]) -> list[tuple[str, str | None]]:
    """SQLMesh's unit tests of `models`: (test, None) passed, (test, why) failed."""
    import io

    with executor.hook.context() as ctx:
        outcome = ctx.test(model_names=models, stream=io.StringIO())
    failures = {str(test): _failure_text(str(text)) for test, text in [*outcome.failures, *outcome.errors]}
    passed = [str(test) for test in getattr(outcome, "successes", [])]
    return [(name, None) for name in passed] + sorted(failures.items())


def _failure_text(text: str, lines: int = 20) -> str:
    """The assertion SQLMesh reports (its diff of expected and actual rows), without the traceback."""
    body = text.strip().splitlines()
    start = next((i for i, line in enumerate(body) if "Error" in line and not line.startswith(("Traceback", "  "))), 0)
    kept = body[start : start + lines]
    return "\n".join(kept + (["..."] if len(body) > start + lines else []))
