"""Shared helpers of the malformed-input corpus: run the CLI in-process, break a project
copy, and load it as Airflow's DagBag would.

Every case asserts (1) a non-zero exit code, (2) no traceback and not the CLI's catch-all
("run with --debug"), and (3) the exact words that name the file (and key or line) and the
problem, plus the fix where one is given.
"""

from __future__ import annotations

import json
from pathlib import Path

# Importing Airflow installs a root log handler bound to the sys.stdout of that moment.
# Imported here, at collection, it binds pytest's session stream instead of one test's
# capsys buffer, which is closed after that test (later log lines would then print
# "--- Logging error ---" with a traceback into another case's captured output).
import airflow  # noqa: F401,E402

REPO_ROOT = Path(__file__).resolve().parents[3]
DAG_FILE = REPO_ROOT / "dags" / "dualengine_example.py"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    from airflow_provider_dualengine.cli.main import main

    capsys.readouterr()  # drop output of fixtures
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(code: int, err: str, *expected: str, exit_code: int = 1) -> None:
    """Non-zero exit, one readable message containing every `expected` fragment."""
    assert code == exit_code, (code, err)
    assert "Traceback" not in err and 'File "' not in err, err
    assert "run with --debug for the traceback" not in err, f"fell through to the catch-all:\n{err}"
    for fragment in expected:
        assert fragment in err, f"{fragment!r} not in:\n{err}"


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def refingerprint(project_dir: Path, **dbt: object) -> None:
    """Record the current source files in the compiled artifact, as a compile of these
    sources would (for edits that change no model, so the engines' output stays the same);
    `dbt` entries update the artifact's `dbt` section the same way."""
    from airflow_provider_dualengine.compiled.artifact import source_files_state
    from airflow_provider_dualengine.config.project import load_project

    project = load_project(project_dir)
    artifact = json.loads(project.artifact_path.read_text(encoding="utf-8"))
    artifact["sources"] = source_files_state(project)
    artifact["dbt"].update(dbt)
    project.artifact_path.write_text(json.dumps(artifact), encoding="utf-8")


def dag_import_error(project_dir: Path, dags: Path) -> str:
    """The import error Airflow records (what the UI shows) for the example DAG file
    pointed at `project_dir`."""
    from airflow.dag_processing.dagbag import DagBag

    dags.mkdir(exist_ok=True)
    source = DAG_FILE.read_text().replace('os.environ.get("DUALENGINE_PROJECT_DIR")', repr(str(project_dir)))
    (dags / "pipeline.py").write_text(source)
    bag = DagBag(dag_folder=str(dags))
    assert bag.dag_ids == [], "the broken project was accepted at DAG parse"
    [message] = bag.import_errors.values()
    return message


def assert_readable_import_error(message: str, *expected: str) -> None:
    """The DualEngineConfigError message, behind at most Airflow's own short traceback
    (`dagbag_import_error_traceback_depth`, 2 frames): no frames from the engines or
    pydantic, no chained exception."""
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "DualEngineConfigError: " in message, message
    assert message.count('File "') <= 2 and "site-packages" not in message, message
    assert "During handling of the above exception" not in message and "direct cause" not in message, message
