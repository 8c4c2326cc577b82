"""Test-wide setup: a private Airflow home (configured before airflow is imported),
the example project, and its dbt manifest compiled once per session."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.pg_fixtures import postgres_database, postgres_server  # noqa: F401  (fixtures)

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PROJECT = REPO_ROOT / "transforms"
DAGS_FOLDER = REPO_ROOT / "dags"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="dualengine-tests-airflow-"))
# dag.test() only runs DAGs found in the dags folder: the tests' folder links the repo's
# DAG files and receives scenario DAG files written by tests.
TEST_DAGS_FOLDER = _AIRFLOW_HOME / "dags"
TEST_DAGS_FOLDER.mkdir()
for _dag_file in DAGS_FOLDER.glob("*.py"):
    (TEST_DAGS_FOLDER / _dag_file.name).symlink_to(_dag_file)

from airflow_provider_dualengine.cli.local_airflow import configure_environment  # noqa: E402

configure_environment(_AIRFLOW_HOME, TEST_DAGS_FOLDER)
os.environ.pop("DUALENGINE_PROJECT_DIR", None)
os.environ.pop("DUALENGINE_ENVIRONMENT", None)
# DAG files name their models' Assets after the warehouse connection while parsing, so
# parsing needs one: a throw-away file unless a test sets its own.
os.environ["AIRFLOW_CONN_DUALENGINE_WAREHOUSE"] = json.dumps(
    {"conn_type": "duckdb", "host": str(_AIRFLOW_HOME / "parse-only" / "shop.duckdb")}
)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def example_project() -> Path:
    """The example project, compiled (SQLMesh models described, dbt manifest written)."""
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    compile_project(load_project(EXAMPLE_PROJECT))
    return EXAMPLE_PROJECT


@pytest.fixture
def project_copy(example_project: Path, tmp_path: Path) -> Path:
    """A writable copy of the compiled example project to break on purpose."""
    target = tmp_path / "transforms"
    shutil.copytree(example_project, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache"))
    return target


@pytest.fixture
def postgres_project_copy(project_copy: Path) -> Path:
    """`project_copy` on a PostgreSQL warehouse (engine pools instead of DuckDB's writer pool)."""
    settings = project_copy / "dualengine.yml"
    settings.write_text(settings.read_text().replace("type: duckdb", "type: postgres"))
    return project_copy


@pytest.fixture(scope="session")
def metadata_db(airflow_home: Path) -> Path:
    from airflow_provider_dualengine.cli.local_airflow import migrate_metadata_db

    migrate_metadata_db()
    return airflow_home / "airflow.db"


@pytest.fixture
def duckdb_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file exposed as the `dualengine_warehouse` Airflow connection."""
    from airflow_provider_dualengine.cli.local_airflow import register_duckdb_warehouse

    path = tmp_path / "warehouse" / "shop.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", "")
    register_duckdb_warehouse("dualengine_warehouse", path)
    return path


@pytest.fixture
def scenario_dag():
    """Write a DAG file into the tests' dags folder, run it with dag.test(), remove it."""
    written: list[Path] = []

    def run(dag_id: str, source: str):
        from airflow.dag_processing.dagbag import DagBag

        path = TEST_DAGS_FOLDER / f"{dag_id}.py"
        path.write_text(f"# airflow dag file written by a test\n{source}")
        written.append(path)
        bag = DagBag(dag_folder=str(path))
        assert bag.import_errors == {}, bag.import_errors
        return bag.dags[dag_id].test()

    yield run
    for path in written:
        path.unlink(missing_ok=True)
