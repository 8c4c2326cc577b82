"""`dualengine docs [PROJECT] [--output PATH] [--check] [--history ENV]` (cli/docs.py) on
compiled copies of the example: what it prints, where it writes, --check's exit codes and
diff, and cost from a real DuckDB run history."""

from __future__ import annotations

import argparse
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from airflow_provider_dualengine.cli import docs
from airflow_provider_dualengine.governance.metadata import DEFAULT_OUTPUT
from airflow_provider_dualengine.hooks.warehouse import Warehouse
from airflow_provider_dualengine.monitoring import history
from airflow_provider_dualengine.monitoring.history import RunRecord
from tests.conftest import EXAMPLE_PROJECT
from tests.unit.governance.test_metadata import (
    DBT_NEW,
    DBT_OLD,
    SQLMESH_NEW,
    SQLMESH_OLD,
)

COMMITTED = EXAMPLE_PROJECT / DEFAULT_OUTPUT


def run_docs(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """The verb through its own parser, as main's subparsers will call it."""
    parser = argparse.ArgumentParser(prog="dualengine")
    docs.add_parser(parser.add_subparsers())
    args = parser.parse_args(["docs", *map(str, argv)])
    capsys.readouterr()
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_writes_the_default_file_then_finds_it_up_to_date(
    capsys: pytest.CaptureFixture[str], docs_example: Path, tmp_path: Path
) -> None:
    project = tmp_path / "transforms"
    shutil.copytree(docs_example, project)
    target = project / "shared/documentation/model_metadata.yml"
    target.unlink()

    code, out, err = run_docs(capsys, project)

    assert (code, out, err) == (0, f"wrote {target} (6 SQLMesh, 4 dbt models)\n", "")
    assert target.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    assert run_docs(capsys, project) == (0, f"{target} is up to date (6 SQLMesh, 4 dbt models)\n", "")


def test_output_writes_elsewhere_and_check_passes_on_the_committed_file(
    capsys: pytest.CaptureFixture[str], docs_example: Path, tmp_path: Path
) -> None:
    output = tmp_path / "site" / "models.yml"

    code, out, _ = run_docs(capsys, docs_example, "--output", output)

    assert (code, out) == (0, f"wrote {output} (6 SQLMesh, 4 dbt models)\n")
    assert output.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    committed_copy = docs_example / DEFAULT_OUTPUT
    assert run_docs(capsys, docs_example, "--check") == (
        0,
        f"{committed_copy} is up to date (6 SQLMesh, 4 dbt models)\n",
        "",
    )


def test_check_fails_with_a_diff_naming_each_model_whose_description_changed(
    capsys: pytest.CaptureFixture[str], edited_docs_example: Path
) -> None:
    committed = edited_docs_example / DEFAULT_OUTPUT
    before = committed.read_text(encoding="utf-8")

    code, out, err = run_docs(capsys, edited_docs_example, "--check")

    assert code == 1
    assert committed.read_text(encoding="utf-8") == before  # --check writes nothing
    assert out.startswith(f"--- {committed} (committed)\n+++ {committed} (generated)\n")
    hunks = out.split("@@")
    for name, old, new in (
        ("stg_customers", DBT_OLD, DBT_NEW),
        ("intermediate.customer_lifetime", SQLMESH_OLD, SQLMESH_NEW),
    ):
        hunk = next(h for h in hunks if f"   - name: {name}\n" in h)
        assert f'\n-    description: "{old}"\n+    description: "{new}"\n' in hunk, hunk
    hunk = next(h for h in hunks if "   - name: customer_order_summary\n" in h)
    assert (
        '\n-    description: "One row per customer with score and completed-order totals."'
        '\n-    description_from: dbt/models/marts/schema.yml\n+    description: ""\n'
    ) in hunk, hunk
    assert err == (
        "warning: dbt:customer_order_summary has no description\n"
        "    fix: add `description:` under `- name: customer_order_summary` in a properties file (schema.yml)"
        " next to dbt/models/marts/customer_order_summary.sql, then `dualengine compile`\n"
        f"error: {committed} is out of date with the models' files (the diff above)\n"
        f"    fix: run `dualengine docs {edited_docs_example}` and commit model_metadata.yml\n"
    )


def test_check_fails_when_the_file_is_missing_and_the_fix_repeats_the_options(
    capsys: pytest.CaptureFixture[str], docs_example: Path, tmp_path: Path
) -> None:
    output = tmp_path / "no such dir" / "meta.yml"

    code, out, err = run_docs(capsys, docs_example, "--check", "--output", output)

    assert (code, out) == (1, "")
    assert err == (
        f"error: {output} does not exist\n"
        f"    fix: run `dualengine docs {docs_example} --output '{output}'` and commit meta.yml\n"
    )
    assert not output.parent.exists()


def test_history_prices_each_model_from_the_run_history(
    capsys: pytest.CaptureFixture[str], docs_example: Path, duckdb_warehouse: Path, tmp_path: Path
) -> None:
    """development prices: SQLMesh small = 2 USD/h, dbt x-small = 1 USD/h (the example's
    monitoring.yml and resources.yml)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    run = {"dag_id": "shop", "run_id": "manual__1", "task_id": "t", "started_at": start}
    db = duckdb.connect(str(duckdb_warehouse))
    history.record(
        Warehouse(db.cursor(), "duckdb"),
        [
            RunRecord(
                "model", "sqlmesh", "development", "staging.stg_orders", "success", duration_s=1_800_000.0, **run
            ),
            RunRecord("model", "dbt", "development", "customer_value", "success", duration_s=1_800_000.0, **run),
            RunRecord("model", "dbt", "production", "stg_customers", "success", duration_s=3600.0, **run),
            RunRecord(
                "model",
                "dbt",
                "development",
                "stg_customers",
                "success",
                duration_s=3600.0,
                **{**run, "started_at": start - timedelta(days=40)},  # before the 30 days
            ),
        ],
    )
    db.close()
    output = tmp_path / "meta.yml"

    code, out, _ = run_docs(capsys, docs_example, "--history", "development", "--output", output)

    assert (code, out) == (0, f"wrote {output} (6 SQLMesh, 4 dbt models)\n")
    models = {m["name"]: m for m in yaml.safe_load(output.read_text(encoding="utf-8"))["models"]}
    window = "in development over the last 30 days"
    assert (models["staging.stg_orders"]["cost_impact"], models["staging.stg_orders"]["cost_source"]) == (
        "high",
        f"history: 1000.00 USD (1 priced run {window})",
    )
    assert (models["customer_value"]["cost_impact"], models["customer_value"]["cost_source"]) == (
        "medium",
        f"history: 500.00 USD (1 priced run {window})",
    )
    assert (models["stg_customers"]["cost_impact"], models["stg_customers"]["cost_source"]) == (
        "unknown",
        f"no priced run {window}",
    )
    assert run_docs(capsys, docs_example, "--history", "development", "--output", output)[0] == 0
    code, out, err = run_docs(capsys, docs_example, "--output", output, "--check")  # other options: other file
    assert code == 1
    assert f'-    cost_source: "history: 1000.00 USD (1 priced run {window})"\n' in out
    assert err.endswith(f"    fix: run `dualengine docs {docs_example} --output {output}` and commit meta.yml\n")
