"""Engine errors during `dualengine compile` (kind 2) and a missing engine library (kind 3).

SQLMesh cases load the real SQLMesh project (they fail while loading, in 1-3 s). dbt
cases run the real `dbt parse`; all but one take the SQLMesh side from the example's
compiled description instead of loading SQLMesh again (the SQLMesh load is what the
SQLMesh cases test), which keeps each at the cost of one `dbt parse`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.cli._corpus import assert_clean_failure, assert_readable_import_error, refingerprint, replace, run_cli

SQLMESH_CASES = {
    "SQL syntax error": (
        lambda p: replace(
            p / "sqlmesh/models/staging/stg_orders.sql",
            "FROM raw.raw_orders\nWHERE",
            "FROM raw.raw_orders\nWHERE WHERE",
        ),
        (
            "{P}/sqlmesh/models/staging/stg_orders.sql: line 29: SQLMesh cannot load this model: Required keyword: 'this' missing for Where. Line 29, Col: 11.",
        ),
    ),
    "Python model does not import": (
        lambda p: replace(
            p / "sqlmesh/models/shared/customer_enhanced.py",
            "import pandas as pd\n",
            "import pandas as pd\nimport scoring_rules_v2\n",
        ),
        (
            "{P}/sqlmesh/models/shared/customer_enhanced.py: SQLMesh cannot load this model: No module named 'scoring_rules_v2'",
        ),
    ),
    "Python model syntax error": (
        lambda p: replace(p / "sqlmesh/models/shared/customer_enhanced.py", "ORDERS_CAP = 20\n", "ORDERS_CAP = (20\n"),
        (
            "{P}/sqlmesh/models/shared/customer_enhanced.py: line 26: SQLMesh cannot load this model: '(' was never closed (customer_enhanced.py, line 26)",
        ),
    ),
    "config.yaml is not YAML": (
        lambda p: replace(p / "sqlmesh/config.yaml", "default_gateway: duckdb", "default_gateway: [duckdb"),
        (
            "{P}/sqlmesh/config.yaml: line 27: invalid YAML: while parsing a flow sequence: expected ',' or ']', but got ':'",
            "fix: fix the YAML syntax of the SQLMesh config",
        ),
    ),
    "config.yaml invalid field": (
        lambda p: replace(
            p / "sqlmesh/config.yaml", "environment_suffix_target: schema", "environment_suffix_target: sideways"
        ),
        (
            "{P}/sqlmesh/config.yaml: environment_suffix_target: SQLMesh rejects the project config: Invalid project config: Invalid field 'environment_suffix_target': Input should be 'schema', 'table' or 'catalog'",
        ),
    ),
    "config.yaml unknown connection type": (
        lambda p: replace(p / "sqlmesh/config.yaml", "      type: duckdb", "      type: duckbd"),
        ("{P}/sqlmesh/config.yaml: SQLMesh rejects the project config: Unknown connection type 'duckbd'.",),
    ),
    "unknown gateway in an environment": (
        lambda p: replace(p / "config/dual_engine_environments.yml", "gateway: duckdb", "gateway: duckdb_local"),
        (
            "{P}/config/dual_engine_environments.yml: environments.development.sqlmesh.gateway: the SQLMesh project has no gateway 'duckdb_local'",
            "fix: use one of the gateways in config.yaml: duckdb, postgres",
        ),
    ),
    "unknown default_gateway": (
        lambda p: (
            replace(p / "config/dual_engine_environments.yml", "      gateway: duckdb\n", ""),
            replace(p / "dualengine.yml", "  gateway: duckdb\n", ""),
            replace(p / "sqlmesh/config.yaml", "default_gateway: duckdb", "default_gateway: local"),
        ),
        ("{P}/sqlmesh/config.yaml: default_gateway: the SQLMesh project has no gateway 'local'",),
    ),
}


@pytest.mark.parametrize("name", sorted(SQLMESH_CASES))
def test_sqlmesh_load_error_names_the_file(name: str, project_copy: Path, capsys) -> None:
    mutate, expected = SQLMESH_CASES[name]
    mutate(project_copy)
    code, out, err = run_cli(capsys, "compile", project_copy)
    assert_clean_failure(code, err, *(e.format(P=project_copy) for e in expected))
    assert "wrote" not in out


def test_compile_during_dag_parsing_reports_the_model(project_copy: Path, tmp_path: Path) -> None:
    """`build_dag(ProjectConfig(..., compile_if_stale=True))`: the engine error is the DAG's import error."""
    replace(
        project_copy / "sqlmesh/models/staging/stg_orders.sql",
        "FROM raw.raw_orders\nWHERE",
        "FROM raw.raw_orders\nWHERE WHERE",
    )
    dags = tmp_path / "dags"
    dags.mkdir()
    source = f"from airflow_provider_dualengine import ProjectConfig, build_dag\n\ndag = build_dag(ProjectConfig({str(project_copy)!r}, compile_if_stale=True))\n"
    (dags / "pipeline.py").write_text(source)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(dags))
    [message] = bag.import_errors.values()
    assert_readable_import_error(
        message, f"{project_copy}/sqlmesh/models/staging/stg_orders.sql: line 29: SQLMesh cannot load this model"
    )


@pytest.fixture
def sqlmesh_as_compiled(example_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLMesh description compile would produce, taken from the example's artifact."""
    import airflow_provider_dualengine.engines.sqlmesh.compile as sqlmesh_compile

    described = json.loads((example_project / "target" / "dualengine.json").read_text())["sqlmesh"]
    monkeypatch.setattr(
        sqlmesh_compile, "describe_sqlmesh_project", lambda path, gateway=None: {**described, "project_path": str(path)}
    )


DBT_CASES = {
    "Jinja error in a model": (
        lambda p: replace(
            p / "dbt/models/staging/stg_customers.sql",
            "from {{ source('sqlmesh_staging', 'customer_enhanced') }}",
            "from {{ source('sqlmesh_staging', 'customer_enhanced') }\n",
        ),
        ("{P}/dbt/models/staging/stg_customers.sql: line 7: dbt: Compilation Error: unexpected '}}'",),
    ),
    "ref to a dbt model that does not exist": (
        lambda p: replace(p / "dbt/models/marts/customer_value.sql", "ref('stg_customers')", "ref('stg_customer')"),
        (
            "{P}/dbt/models/marts/customer_value.sql: ref('stg_customer') names no dbt model",
            "fix: did you mean stg_customers, customer_value?",
        ),
    ),
    "source that is not declared": (
        lambda p: replace(
            p / "dbt/models/staging/stg_completed_orders.sql",
            "source('sqlmesh_staging', 'stg_orders')",
            "source('sqlmesh_staging', 'orders')",
        ),
        (
            "{P}/dbt/models/staging/stg_completed_orders.sql: source('sqlmesh_staging', 'orders') is not declared in any sources .yml file",
            "fix: declare the table under `sources:`",
        ),
    ),
    "schema.yml is not YAML": (
        lambda p: replace(
            p / "dbt/models/marts/schema.yml",
            "  - name: customer_value\n",
            "  - name: customer_value\n   description: [\n",
        ),
        ("{P}/dbt/models/marts/schema.yml: line 26: dbt cannot read this YAML file:", "fix: fix the YAML syntax"),
    ),
}


@pytest.mark.parametrize("name", sorted(DBT_CASES))
def test_dbt_parse_error_names_the_file(name: str, project_copy: Path, sqlmesh_as_compiled: None, capsys) -> None:
    mutate, expected = DBT_CASES[name]
    mutate(project_copy)
    code, _, err = run_cli(capsys, "compile", project_copy)
    assert_clean_failure(code, err, *(e.format(P=project_copy) for e in expected))
    assert "RuntimeWarning" not in err and "Encountered an error" not in err


def test_ref_to_a_sqlmesh_model_that_does_not_exist(project_copy: Path, capsys) -> None:
    """The whole compile, SQLMesh load included: dbt's error becomes the model file and a
    did-you-mean over the SQLMesh models the plugin offered."""
    replace(
        project_copy / "dbt/models/marts/customer_value.sql",
        "ref('intermediate.customer_lifetime')",
        "ref('intermediate.customer_lifetimes')",
    )
    code, _, err = run_cli(capsys, "compile", project_copy)
    assert_clean_failure(
        code,
        err,
        f"{project_copy}/dbt/models/marts/customer_value.sql: ref('intermediate.customer_lifetimes') names no SQLMesh model (and no dbt model)",
        "fix: did you mean intermediate.customer_lifetime? SQLMesh models: intermediate.customer_lifetime, raw.raw_customers, raw.raw_orders, reporting.value_band_summary, staging.customer_enhanced, staging.stg_orders",
    )


# --- kind 3: an engine library that is not installed ------------------------------------

BLOCKER = '''import sys


class _NoPsycopg2:
    """As if the provider had been installed without its `postgres` extra."""

    def find_spec(self, name, path=None, target=None):
        if name == "psycopg2" or name.startswith("psycopg2."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPsycopg2())
'''


PIP_EXTRA = "fix: install the provider with its postgres extra: pip install 'airflow-provider-dualengine[postgres]'"


def _cli_without_psycopg2(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    blocker = tmp_path / "no_psycopg2"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    environ = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")])),
        "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
    }
    exe = Path(sys.executable).with_name("dualengine")
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, env=environ, timeout=300)


def _assert_extra_named(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr, result.stderr
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"


def test_compile_without_the_postgres_extra(project_copy: Path, tmp_path: Path) -> None:
    """The example's SQLMesh config has a postgres gateway: SQLMesh needs psycopg2 to load it."""
    result = _cli_without_psycopg2(tmp_path, "compile", str(project_copy))
    _assert_extra_named(
        result,
        f"{project_copy}/sqlmesh/config.yaml: gateways.postgres.connection.type: gateway 'postgres' uses the 'postgres' engine, whose Python library is not installed",
        PIP_EXTRA,
    )


def test_compile_of_a_postgres_warehouse_without_dbt_postgres(project_copy: Path, tmp_path: Path) -> None:
    """No postgres gateway in SQLMesh, but warehouse.type postgres: dbt parse needs dbt-postgres."""
    config = project_copy / "sqlmesh" / "config.yaml"
    text = config.read_text()
    config.write_text(
        text[: text.index("  # The same project on a PostgreSQL")] + text[text.index("default_gateway") :]
    )
    replace(project_copy / "dualengine.yml", "type: duckdb", "type: postgres")
    result = _cli_without_psycopg2(tmp_path, "compile", str(project_copy))
    _assert_extra_named(
        result,
        f"{project_copy}/dualengine.yml: warehouse.type: warehouse type 'postgres': dbt's postgres adapter (dbt-postgres) is not installed",
        PIP_EXTRA,
    )


def test_deployments_on_postgres_without_the_driver(project_copy: Path, tmp_path: Path, airflow_home: Path) -> None:
    connection = json.dumps(
        {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "schema": "shop", "login": "u", "password": "p"}
    )
    refingerprint(project_copy)
    result = _cli_without_psycopg2(
        tmp_path, "deployments", str(project_copy), AIRFLOW_CONN_DUALENGINE_WAREHOUSE=connection
    )
    _assert_extra_named(
        result,
        "error: the postgres driver is not installed (No module named 'psycopg2'), so Airflow connection 'dualengine_warehouse' cannot be used\n    fix: pip install 'airflow-provider-dualengine[postgres]'",
    )
