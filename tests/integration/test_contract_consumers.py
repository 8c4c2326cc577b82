"""`dualengine contracts check` sees which columns dbt models read from a contracted
producer (their compiled SQL), on a DuckDB and on a PostgreSQL project: no warehouse is
needed, dbt compiles against a throw-away profile of the project's adapter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _project(project_copy: Path, kind: str) -> Path:
    settings = project_copy / "dualengine.yml"
    settings.write_text(settings.read_text().replace("type: duckdb", f"type: {kind}"))
    return project_copy


def _drop_lifetime_value(project: Path) -> None:
    contract = project / "shared" / "schemas" / "customer_lifetime.yml"
    text = contract.read_text()
    contract.write_text(text[: text.index("      - name: lifetime_value")] + text[text.index("    producer:") :])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("dualengine")), *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_a_dbt_mart_reading_an_unpromised_column_is_reported(project_copy: Path, kind: str) -> None:
    project = _project(project_copy, kind)
    _drop_lifetime_value(project)
    compiled = _cli("compile", str(project))
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    result = _cli("contracts", "check", str(project))
    assert result.returncode == 0, result.stdout + result.stderr  # an open contract: a warning
    assert (
        "warning: customer_lifetime.yml: models[0].columns: consumer dbt:customer_value reads column 'lifetime_value', which the contract does not promise"
        in result.stdout
    )
    contract = project / "shared" / "schemas" / "customer_lifetime.yml"
    contract.write_text(contract.read_text().replace("    producer:", "    closed: true\n    producer:"))
    result = _cli("contracts", "check", str(project))
    assert result.returncode == 1
    assert (
        "error: customer_lifetime.yml: models[0].columns: consumer dbt:customer_value reads column 'lifetime_value', which the contract does not promise (the contract is closed)"
        in result.stdout
    )


def test_a_dbt_model_that_compiles_only_against_the_warehouse_is_named_as_unknown(project_copy: Path) -> None:
    """An introspecting macro needs the warehouse: compile falls back to dbt parse, the DAG
    still renders, and the check says which consumer it cannot see into and why."""
    model = project_copy / "dbt" / "models" / "marts" / "customer_value.sql"
    model.write_text('{% set bands = run_query("select band from band_limits") %}\n' + model.read_text())
    compiled = _cli("compile", str(project_copy))
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    result = _cli("contracts", "check", str(project_copy))
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if "dbt:customer_value" in line]
    assert line.startswith(
        "warning: customer_lifetime.yml: models[0].consumers: cannot tell which columns dbt:customer_value reads from intermediate.customer_lifetime: dbt compile without a warehouse failed (models/marts/customer_value.sql):"
    )
    assert "band_limits" in line
