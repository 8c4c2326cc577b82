"""How long `dualengine test --changed-since` takes on the example, as a pull request's CI runs it.

    .venv/bin/python benchmarks/cross_engine_test.py [--runs 3]

A temporary git repository holds the example project (`transforms/`) and the workflow
`dualengine ci init` writes. For each scenario a commit is made on top of the base and the
workflow's own test command runs (`origin/main` replaced by HEAD~1) in a fresh interpreter:
a breaking SQLMesh change (exit 1), a harmless SQLMesh change (exit 0), a dbt change that
breaks the SQLMesh reporting model (exit 1), and the whole project without
`--changed-since`. The target is under 90 s each on a 2-core machine. Writes
benchmarks/results/cross_engine_test.json (median, min-max, exit codes).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_common import ENV, REPO  # type: ignore[import-not-found]

HERE = Path(__file__).resolve().parent
DUALENGINE = Path(sys.executable).with_name("dualengine")
GIT = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
LIFETIME = "transforms/sqlmesh/models/intermediate/customer_lifetime.sql"
VALUE = "transforms/dbt/models/marts/customer_value.sql"

# (name, [(file, old, new)], expected exit code)
SCENARIOS = [
    (
        "breaking SQLMesh change (lifetime_value renamed)",
        [
            (LIFETIME, "    lifetime_value DECIMAL(18, 2)\n", "    total_value DECIMAL(18, 2)\n"),
            (LIFETIME, "AS lifetime_value", "AS total_value"),
            (LIFETIME, "completed_orders, lifetime_value)", "completed_orders, total_value)"),
        ],
        1,
    ),
    ("harmless SQLMesh change (GROUP BY 1)", [(LIFETIME, "GROUP BY\n  c.customer_id", "GROUP BY\n  1")], 0),
    ("dbt change breaking the SQLMesh reporting model", [(VALUE, "end as value_band", "end as band")], 1),
    ("whole project (no --changed-since)", [], 0),
]


def _git(root: Path, *args: str) -> None:
    subprocess.run([*GIT, "-C", str(root), *args], check=True, capture_output=True)


def _repository(into: Path) -> Path:
    root = into / "repo"
    shutil.copytree(
        REPO / "transforms", root / "transforms", ignore=shutil.ignore_patterns("target", "*.duckdb", "logs", ".cache")
    )
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([str(DUALENGINE), "ci", "init", "transforms"], cwd=root, env=ENV, check=True, capture_output=True)
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    _git(root, "tag", "base")
    return root


def _workflow_command(root: Path) -> list[str]:
    workflow = yaml.safe_load((root / ".github" / "workflows" / "dual_engine_tests.yml").read_text())
    [run] = [
        s["run"] for s in workflow["jobs"]["test_cross_engine_integration"]["steps"] if s.get("id") == "dualengine-test"
    ]
    argv = shlex.split(run)
    argv[argv.index("--changed-since") + 1] = "HEAD~1"
    return [str(DUALENGINE), *argv[1:]]


def _scenario(root: Path, edits: list[tuple[str, str, str]]) -> list[str]:
    """Reset to the base, apply the edits as one commit; the command to time."""
    _git(root, "reset", "-q", "--hard", "base")
    _git(root, "clean", "-qfdx", "-e", ".github", "-e", ".gitlab-ci.yml")
    command = _workflow_command(root)
    if not edits:
        return [c for i, c in enumerate(command) if c != "--changed-since" and command[i - 1] != "--changed-since"]
    for file, old, new in edits:
        path = root / file
        text = path.read_text()
        assert old in text, (file, old)
        path.write_text(text.replace(old, new))
    _git(root, "commit", "-qam", "scenario")
    return command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cross-engine-test-") as tmp:
        root = _repository(Path(tmp))
        for name, edits, expected in SCENARIOS:
            times, codes = [], []
            for _ in range(args.runs):
                command = _scenario(root, edits)
                began = time.perf_counter()
                done = subprocess.run(command, cwd=root, env=ENV, capture_output=True, text=True)
                times.append(time.perf_counter() - began)
                codes.append(done.returncode)
                if done.returncode != expected:
                    raise SystemExit(
                        f"{name}: exit {done.returncode}, expected {expected}\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
                    )
            results.append(
                {
                    "scenario": name,
                    "command": shlex.join(["dualengine", *command[1:]]),
                    "exit_codes": codes,
                    "median_s": round(statistics.median(times), 1),
                    "min_s": round(min(times), 1),
                    "max_s": round(max(times), 1),
                }
            )
            print(
                f"{name}: median {results[-1]['median_s']} s ({results[-1]['min_s']}-{results[-1]['max_s']}), exit {codes}"
            )
    out = HERE / "results" / "cross_engine_test.json"
    out.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d"),
                "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                "runs": args.runs,
                "target_s": 90,
                "scenarios": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
