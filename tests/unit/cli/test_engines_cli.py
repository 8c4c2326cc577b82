"""`dualengine engines` (cli/engines.py) on a compiled copy of the example (compiled once
for the module): the example has no mismatch and each model is where its rules say, in
the table and in --json; the run history prices the models; an unreadable warehouse and a
missing rules file are no errors; a mismatch at `mismatch: error` exits 1."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from airflow_provider_dualengine.hooks.warehouse import Warehouse
from airflow_provider_dualengine.monitoring import history
from airflow_provider_dualengine.monitoring.history import RunRecord
from tests.unit.cli._corpus import run_cli

# The example's recommendations and the rule that decides each (docs/engine-selection.md).
EXAMPLE = {
    "sqlmesh:intermediate.customer_lifetime": ("sqlmesh", "force_sqlmesh"),
    "sqlmesh:raw.raw_customers": ("sqlmesh", "force_sqlmesh"),
    "sqlmesh:raw.raw_orders": ("sqlmesh", "force_sqlmesh"),
    "sqlmesh:reporting.value_band_summary": ("sqlmesh", "force_sqlmesh"),
    "sqlmesh:staging.customer_enhanced": ("sqlmesh", "python_required"),
    "sqlmesh:staging.stg_orders": ("sqlmesh", "force_sqlmesh"),
    "dbt:customer_order_summary": ("dbt", "existing_dbt_model"),
    "dbt:customer_value": ("dbt", "simple_transformations"),
    "dbt:stg_completed_orders": ("dbt", "simple_transformations"),
    "dbt:stg_customers": ("dbt", "simple_transformations"),
}


EXAMPLE_REASON = (
    "Landing and incremental loads keep SQLMesh's interval tracking (Pattern 2: raw and integration layers "
    "on SQLMesh); value_band_summary reads a dbt mart back into SQLMesh"
)


@pytest.fixture(scope="module")
def example(example_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example the session compiled (the artifact stays fresh)."""
    target = tmp_path_factory.mktemp("engines") / "transforms"
    return Path(shutil.copytree(example_project, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache")))


@pytest.fixture
def example_copy(example: Path, tmp_path: Path) -> Path:
    """A copy of the compiled copy, to edit (the artifact stays fresh: no model changes)."""
    return Path(shutil.copytree(example, tmp_path / "transforms"))


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    """`dualengine engines ...` through the console script's main(); stderr must stay empty."""
    code, out, err = run_cli(capsys, "engines", *argv)
    assert err == ""
    return code, out


def test_the_table_shows_each_model_where_its_rules_put_it(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    code, out = run(capsys, example, "--no-history")

    lines = out.splitlines()
    assert code == 0
    assert lines[0] == (
        f"shop (development): engine selection by {example}/config/engine_selection_rules.yml "
        "(default dbt, mismatch: warning)"
    )
    assert lines[1].split() == [
        "model",
        "current",
        "recommended",
        "decided",
        "by",
        "rules",
        "fired",
        "override",
        "glob",
    ]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:12]}
    assert {model: (cells[1], cells[2]) for model, cells in rows.items()} == EXAMPLE
    assert all(cells[0] == model.split(":")[0] for model, cells in rows.items())  # current = recommended
    assert rows["sqlmesh:raw.raw_orders"][3:] == ["-", "'raw.*'"]
    assert rows["dbt:customer_order_summary"][3:] == ["existing_dbt_model,", "bi_tool_dependency", "-"]
    assert lines[12] == f"  override_rules.force_sqlmesh: {EXAMPLE_REASON}"
    assert lines[13] == "10 models, 0 on another engine than recommended"
    assert lines[14:16] == [
        "feature sources (--json shows each value with its source):",
        "  cost, execution time: run history of development: not read (--no-history)",
    ]
    # the copy sits in pytest's temp folder: git's own words for "no repository here" (or
    # the lack of git) are the source; they are git's, not ours
    assert lines[16].startswith("  rapid iteration: git: "), lines[16]


def test_json_has_every_feature_with_its_source(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    code, out = run(capsys, example, "--no-history", "--json")

    document = json.loads(out)
    models = {m["model"]: m for m in document["models"]}
    assert code == 0
    assert {k: (m["recommended"], m["decided_by"]) for k, m in models.items()} == EXAMPLE
    assert not any(m["mismatch"] for m in models.values())
    assert document["findings"] == []
    assert document["summary"] == {"models": 10, "mismatches": 0, "errors": 0, "warnings": 0}
    enhanced = models["sqlmesh:staging.customer_enhanced"]
    assert enhanced["fired"] == [
        {
            "rule": "python_required",
            "engine": "sqlmesh",
            "key": "engine_selection.sqlmesh_conditions.complexity_indicators.python_required",
            "condition": "a Python model",
            "value": True,
            "source": "SQLMesh model kind: python (sqlmesh/models/shared/customer_enhanced.py)",
        }
    ]
    assert enhanced["features"]["complexity_score"] == {"value": None, "source": "Python model: no SQL"}
    assert enhanced["features"]["ml_model_integration"] == {
        "value": False,
        "source": "Python model imports datetime, pandas, sqlglot, sqlmesh, typing (no ML package)",
    }
    summary = models["dbt:customer_order_summary"]["features"]
    assert summary["complexity_score"] == {
        "value": 4,
        "source": "sqlglot on the compiled dbt SQL: 1 + 1 join + 2 CTEs = 4",
    }
    assert summary["bi_tool_dependency"] == {"value": True, "source": "dbt exposures: customer_dashboard (dashboard)"}
    assert models["sqlmesh:raw.raw_orders"]["override"] == {
        "engine": "sqlmesh",
        "glob": "raw.*",
        "reason": EXAMPLE_REASON,
        "key": "engine_selection.override_rules.force_sqlmesh",
    }
    assert models["sqlmesh:raw.raw_orders"]["features"]["complexity_score"] == {
        "value": None,
        "source": "no SQL query (SEED)",
    }


def test_the_run_history_prices_the_models(
    capsys: pytest.CaptureFixture[str], example: Path, duckdb_warehouse: Path
) -> None:
    """development prices: dbt x-small = 1 USD/h (the example's monitoring.yml and resources.yml)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    db = duckdb.connect(str(duckdb_warehouse))
    history.record(
        Warehouse(db.cursor(), "duckdb"),
        [
            RunRecord(
                "model", "dbt", "development", "customer_value", "success", "shop", f"run_{n}", "t",
                started_at=start + timedelta(hours=n), duration_s=seconds,
            )
            for n, seconds in enumerate((600.0, 1200.0, 1800.0))
        ],
    )  # fmt: skip
    db.close()

    code, out = run(capsys, example, "--json")

    document = json.loads(out)
    value = {m["model"]: m for m in document["models"]}["dbt:customer_value"]
    assert code == 0
    assert value["features"]["monthly_cost_usd"] == {
        "value": 1.0,  # 3600 s at 1 USD/h
        "source": "history: 3 executions in development in the last 30 days, priced by the cost model",
    }
    assert value["features"]["execution_time_minutes"] == {
        "value": 20.0,
        "source": "history: median of the last 3 successful runs in development",
    }
    assert [f["rule"] for f in value["fired"]] == [
        "monthly_cost_usd_below",
        "simple_transformations",
        "existing_dbt_model",
    ]
    assert document["sources"]["history"].startswith("run history of development, last 30 days (3 rows)")


def test_an_unreadable_warehouse_is_no_error(
    capsys: pytest.CaptureFixture[str], example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-warehouse" / "shop.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(missing)}))

    code, out = run(capsys, example, "--json")

    document = json.loads(out)
    assert code == 0
    assert document["sources"]["history"].startswith("run history of development: unreadable: ")
    assert "database does not exist" in document["sources"]["history"]
    assert document["models"][0]["features"]["monthly_cost_usd"] == {
        "value": None,
        "source": "unknown: run history unreadable and nothing declared",
    }
    assert not missing.exists()


def test_a_mismatch_at_error_severity_exits_1(capsys: pytest.CaptureFixture[str], example_copy: Path) -> None:
    rules = example_copy / "config/engine_selection_rules.yml"
    text = rules.read_text(encoding="utf-8").replace("mismatch: warning", "mismatch: error")
    rules.write_text(text.replace(', "intermediate.*"', ""), encoding="utf-8")

    code, out = run(capsys, example_copy, "--no-history")

    assert code == 1
    assert "10 models, 1 on another engine than recommended (marked (!))" in out
    assert (
        f"error: {example_copy}/sqlmesh/models/intermediate/customer_lifetime.sql: "
        "sqlmesh:intermediate.customer_lifetime: runs on sqlmesh, the selection rules recommend dbt: "
        "simple_transformations [complexity score <= 3] (2: sqlglot on the rendered SQLMesh query: 1 + 1 join = 2) "
        "[engine_selection.simple_transformations]\n"
        "    fix: move it to dbt, or add it to override_rules.force_sqlmesh with a reason\n"
    ) in out
    assert "sqlmesh:intermediate.customer_lifetime  sqlmesh  dbt (!)" in out


def test_without_the_rules_file_it_says_how_to_start(capsys: pytest.CaptureFixture[str], example_copy: Path) -> None:
    (example_copy / "config/engine_selection_rules.yml").unlink()

    code, out = run(capsys, example_copy)
    json_code, json_out = run(capsys, example_copy, "--json")

    assert (code, json_code) == (0, 0)
    assert out.startswith(f"shop: no {example_copy}/config/engine_selection_rules.yml: no engine recommendations.")
    assert "docs/engine-selection.md" in out
    assert json.loads(json_out)["file"] is None


def test_a_broken_rules_file_names_file_key_and_fix(capsys: pytest.CaptureFixture[str], example_copy: Path) -> None:
    rules = example_copy / "config/engine_selection_rules.yml"
    rules.write_text(
        rules.read_text(encoding="utf-8").replace("  mismatch: warning", "  mismatch: loud"), encoding="utf-8"
    )

    code, out, err = run_cli(capsys, "engines", example_copy)

    assert (code, out) == (1, "")
    assert (
        f"- {rules}: engine_selection.mismatch: Input should be 'warning' or 'error'\n"
        "    fix: use one of the allowed values"
    ) in err


def test_the_readme_shows_the_report_the_example_gets(
    example_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """README.md's "Which engine for which model" block is this command's output."""
    from airflow_provider_dualengine.cli.main import main

    assert main(["engines", str(example_project), "--no-history"]) == 0
    printed = capsys.readouterr().out.splitlines()
    readme = (example_project.parent / "README.md").read_text()
    block = readme.split("`dualengine engines transforms` on the example:\n\n```text\n")[1].split("\n```")[0]
    shown = block.splitlines()
    assert shown[0] == printed[0].replace(f"{example_project}/", "")
    assert shown[1:] == printed[1 : len(shown)]
