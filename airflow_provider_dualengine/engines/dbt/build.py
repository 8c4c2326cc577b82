"""One `dbt build` of many models in this process, and what it did to each model.

dbt's start, project parse and connection cost the same for one model as for fifty, so a
stage pays them once (the way SQLMesh runs a stage once) and each model's Airflow task
reports its own outcome from the result. The outcome comes from `run_results.json` and
`manifest.json`, dbt's documented artifacts, not from dbt's in-memory objects.

Tests belong to the model they are attached to (`attached_node`, the model a generic test
is declared on); a test without one (a singular test) belongs to every model of the build
it reads. A failing test fails its model, a warning does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.engines.dbt.stage_manifest import cache_root
from airflow_provider_dualengine.engines.process import freeze_heap_at_exit, temporary_environ

FAILED_MODEL = ("error", "fail", "runtime error")
FAILED_TEST = ("fail", "error", "runtime error")
BUILT_RESOURCES = ("model", "seed", "snapshot")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


class DbtInvocationError(RuntimeError):
    """dbt stopped before building anything (project, profile or connection error)."""


@dataclass(frozen=True)
class DbtBuildRequest:
    """Everything one `dbt build` needs; paths absolute, names already validated."""

    project_dir: Path
    profiles_dir: Path
    target: str
    select: tuple[str, ...]
    work_dir: Path  # receives target/ and logs/: the project folder may be read-only
    vars: Mapping[str, Any] = field(default_factory=dict)
    indirect_selection: str = "buildable"  # a test of two stages' models runs with the later one
    threads: int | None = None

    def args(self) -> list[str]:
        """dbt's arguments, one list element per value: nothing is spliced into a shell."""
        args = [
            "build",
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target",
            self.target,
            "--target-path",
            str(self.work_dir / "target"),
            "--log-path",
            str(self.work_dir / "logs"),
            "--indirect-selection",
            self.indirect_selection,
            "--select",
            *self.select,
        ]
        if self.vars:
            args += ["--vars", json.dumps(dict(self.vars), sort_keys=True)]
        if self.threads:
            args += ["--threads", str(self.threads)]
        return args


def run_build(request: DbtBuildRequest, env: Mapping[str, str]) -> dict[str, Any]:
    """Run `dbt build` in-process; the per-model outcomes (see `model_outcomes`).

    Raises DbtInvocationError when dbt built nothing because it could not start (a model's
    own failure is an outcome, not an exception)."""
    from dbt.cli.main import dbtRunner

    (request.work_dir / "target").mkdir(parents=True, exist_ok=True)
    cached = partial_parse_cache(request)
    if cached.is_file():
        shutil.copyfile(cached, request.work_dir / "target" / PARTIAL_PARSE_FILE)
    freeze_heap_at_exit()
    with temporary_environ(env):  # profile secrets, plugin settings: for this invocation only
        result = dbtRunner().invoke(request.args())
    _keep_partial_parse(request.work_dir / "target" / PARTIAL_PARSE_FILE, cached)
    run_results = request.work_dir / "target" / "run_results.json"
    if result.exception is not None or not run_results.is_file():
        raise DbtInvocationError(f"dbt build did not run: {result.exception or 'no run_results.json written'}")
    manifest = json.loads((request.work_dir / "target" / "manifest.json").read_text(encoding="utf-8"))
    return model_outcomes(json.loads(run_results.read_text(encoding="utf-8")), manifest)


def partial_parse_cache(request: DbtBuildRequest) -> Path:
    """Where dbt's partial-parse state of this project, target and vars is kept between
    invocations (each gets a fresh target folder). dbt checks the file itself (project files,
    profile, vars, its own version) and parses everything again when it does not match, so
    a stale file costs a full parse, never a wrong result. Saves ~0.7 s per stage."""
    key = hashlib.sha256(
        json.dumps(
            [str(request.project_dir), str(request.profiles_dir), request.target, dict(request.vars)],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    return cache_root() / "dbt-partial-parse" / f"{key}.msgpack"


def _keep_partial_parse(written: Path, cache: Path) -> None:
    if not written.is_file():
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    shutil.copyfile(written, tmp)
    os.replace(tmp, cache)  # atomic: a concurrent stage reads the old or the new file, never half


def _completed_at(result: Mapping[str, Any]) -> str | None:
    """When dbt finished executing the node (ISO, UTC): what dates a dbt producer's data."""
    return _execute_timing(result, "completed_at")


def _execute_timing(result: Mapping[str, Any], key: str) -> str | None:
    stamps = [t.get(key) for t in result.get("timing") or () if t.get("name") == "execute"]
    return stamps[-1] if stamps and stamps[-1] else None


def model_outcomes(run_results: Mapping[str, Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """{"models": {model name: outcome}, "failed": [names], "elapsed_s": dbt's elapsed time}.

    An outcome: status (success / error / skipped), dbt's message, execution seconds, rows
    affected where the adapter reports them, when execution completed, and the model's tests (passed count, failures
    and warnings with dbt's message)."""
    nodes = manifest.get("nodes", {})
    results = run_results.get("results", [])
    built = {r["unique_id"]: r for r in results if _resource_type(r["unique_id"], nodes) in BUILT_RESOURCES}
    models: dict[str, dict[str, Any]] = {}
    for unique_id, result in built.items():
        name = nodes.get(unique_id, {}).get("name") or unique_id.rsplit(".", 1)[-1]
        models[name] = {
            "unique_id": unique_id,
            "status": _model_status(result["status"]),
            "message": result.get("message"),
            "execution_s": round(float(result.get("execution_time") or 0.0), 3),
            "rows_affected": (result.get("adapter_response") or {}).get("rows_affected"),
            "bytes_processed": (result.get("adapter_response") or {}).get("bytes_processed"),
            "completed_at": _completed_at(result),
            "started_at": _execute_timing(result, "started_at"),
            "relation": result.get("relation_name") or None,
            "tests_passed": 0,
            "tests_failed": [],
            "tests_warned": [],
        }
    by_id = {outcome["unique_id"]: outcome for outcome in models.values()}
    for result in results:
        unique_id = result["unique_id"]
        if _resource_type(unique_id, nodes) != "test":
            continue
        test = nodes.get(unique_id, {})
        for owner in _test_owners(test, by_id):
            _record_test(by_id[owner], test.get("name") or unique_id, result)
    for outcome in models.values():
        if outcome["status"] == "success" and outcome["tests_failed"]:
            outcome["status"] = "tests_failed"
    failed = sorted(name for name, o in models.items() if o["status"] != "success")
    return {"models": models, "failed": failed, "elapsed_s": run_results.get("elapsed_time")}


def _resource_type(unique_id: str, nodes: Mapping[str, Any]) -> str:
    return nodes.get(unique_id, {}).get("resource_type") or unique_id.split(".", 1)[0]


def _model_status(status: str) -> str:
    if status in FAILED_MODEL:
        return "error"
    return "skipped" if status == "skipped" else "success"


def _test_owners(test: Mapping[str, Any], built: Mapping[str, Any]) -> Iterable[str]:
    attached = test.get("attached_node")
    if isinstance(attached, str) and attached in built:
        return [attached]
    return [parent for parent in (test.get("depends_on") or {}).get("nodes", []) if parent in built]


def _record_test(outcome: dict[str, Any], name: str, result: Mapping[str, Any]) -> None:
    status = result["status"]
    detail = {"test": name, "status": status, "message": result.get("message"), "failures": result.get("failures")}
    if status in FAILED_TEST:
        outcome["tests_failed"].append(detail)
    elif status == "warn":
        outcome["tests_warned"].append(detail)
    elif status == "pass":
        outcome["tests_passed"] += 1
