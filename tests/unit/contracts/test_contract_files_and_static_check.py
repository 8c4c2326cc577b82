"""Contract files: every kind of bad input names file, key and fix; the static check
against the compiled projects finds narrowing and unpromised reads before anything runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_dualengine.config.contracts import load_contracts
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.config.project import load_project
from airflow_provider_dualengine.contracts.static import check_project_contracts

GOOD = """
version: 2
models:
  - name: staging.customer_enhanced
    columns:
      - name: customer_id
        data_type: integer
        constraints: [{type: not_null}, {type: unique}]
      - name: customer_score
        data_type: double
        constraints:
          - type: check
            expression: "customer_score >= 0 AND customer_score <= 100"
    producer: sqlmesh
    consumers: [dbt]
    sla: {freshness: "< 1 hour", availability: "99.9%"}
"""


def _issues(tmp_path: Path, text: str):
    folder = tmp_path / "schemas"
    folder.mkdir(exist_ok=True)
    (folder / "c.yml").write_text(text)
    return load_contracts(folder)


def test_the_seed_shape_loads(tmp_path: Path) -> None:
    contracts, issues = _issues(tmp_path, GOOD)
    assert issues == []
    [contract] = contracts
    assert contract.major == 2 and contract.model.sla.max_age.total_seconds() == 3600
    assert contract.model.column("customer_id").has("unique")


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            "{type: unique}",
            "{type: uniq}",
            "models[0].columns[0].constraints[1]",
            "'uniq' found using 'type' does not match",
        ),
        (
            "data_type: double",
            "data_type: dubble",
            "models[0].columns[1].data_type",
            "data_type 'dubble' is not a SQL type",
        ),
        ('freshness: "< 1 hour"', 'freshness: "soon"', "models[0].sla.freshness", "freshness 'soon' is not a duration"),
        ('availability: "99.9%"', 'availability: "always"', "models[0].sla.availability", "not a percentage"),
        (
            '"customer_score >= 0 AND customer_score <= 100"',
            '"customer_score >= 0; DROP TABLE x"',
            "models[0].columns[1].constraints[0].check.expression",
            "single SQL expression",
        ),
        (
            '"customer_score >= 0 AND customer_score <= 100"',
            '"customer_score IN (SELECT 1)"',
            "models[0].columns[1].constraints[0].check.expression",
            "not a statement or subquery",
        ),
        ("producer: sqlmesh", "producer: spark", "models[0].producer", "Input should be 'sqlmesh' or 'dbt'"),
    ],
)
def test_bad_contract_files_name_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    assert old in GOOD
    _, issues = _issues(tmp_path, GOOD.replace(old, new))
    assert [i.key for i in issues] == [key]
    assert message in issues[0].message and issues[0].file.name == "c.yml"


def test_producer_engine_and_consumers_are_checked_at_dag_parse(project_copy: Path) -> None:
    from airflow_provider_dualengine import build_dag

    contract = project_copy / "shared" / "schemas" / "customer_enhanced.yml"
    contract.write_text(
        contract.read_text()
        .replace("producer: sqlmesh", "producer: dbt")
        .replace('consumers: [dbt, "dbt:stg_customers"]', 'consumers: [dbt, "dbt:stg_customerz"]')
    )
    with pytest.raises(DualEngineConfigError) as failure:
        build_dag(project_copy)
    text = str(failure.value)
    assert (
        "customer_enhanced.yml: models[0].producer: producer is 'dbt', but staging.customer_enhanced is a model of another engine (sqlmesh:staging.customer_enhanced)"
        in text
    )
    assert "models[0].consumers[1]: consumer 'dbt:stg_customerz' is neither an engine" in text


def test_example_contracts_hold(example_project: Path) -> None:
    contracts, findings = check_project_contracts(load_project(example_project))
    assert sorted(c.model.name for c in contracts) == [
        "customer_value",
        "intermediate.customer_lifetime",
        "staging.customer_enhanced",
    ]
    assert findings == []


def _drop_promise(contract: Path, column: str, closed: bool = False) -> None:
    text = contract.read_text()
    start = text.index(f"      - name: {column}")
    end = (
        text.index("      - name: ", start + 1)
        if "      - name: " in text[start + 1 :]
        else text.index("    producer:")
    )
    text = text[:start] + text[end:]
    contract.write_text(text.replace("    producer:", "    closed: true\n    producer:") if closed else text)


def test_a_sqlmesh_consumer_reading_an_unpromised_column_is_a_warning(project_copy: Path) -> None:
    _drop_promise(project_copy / "shared" / "schemas" / "customer_value.yml", "lifetime_value")
    _, findings = check_project_contracts(load_project(project_copy))
    assert [(f.severity, f.key, f.message) for f in findings] == [
        (
            "warning",
            "models[0].columns",
            "consumer sqlmesh:reporting.value_band_summary reads column 'lifetime_value', which the contract does not promise",
        )
    ]


@pytest.mark.parametrize(
    ("closed", "severity", "suffix"), [(False, "warning", ""), (True, "error", " (the contract is closed)")]
)
def test_a_dbt_mart_reading_an_unpromised_column_is_reported_by_contracts_check(
    project_copy: Path, closed: bool, severity: str, suffix: str, capsys
) -> None:
    """customer_value (dbt) reads lifetime_value of the SQLMesh model through ref(): the
    compiled SQL says so, although the dbt model declares nothing about it."""
    from airflow_provider_dualengine.cli.main import main

    _drop_promise(project_copy / "shared" / "schemas" / "customer_lifetime.yml", "lifetime_value", closed)
    assert main(["contracts", "check", str(project_copy)]) == (1 if closed else 0)
    out = capsys.readouterr().out
    assert (
        f"{severity}: customer_lifetime.yml: models[0].columns: consumer dbt:customer_value reads column 'lifetime_value', which the contract does not promise{suffix}"
        in out
    )
    assert "fix: add 'lifetime_value' to the contract, or stop reading it in dbt:customer_value" in out


def test_a_column_used_only_in_a_filter_counts_as_read(project_copy: Path) -> None:
    """stg_completed_orders (dbt) filters on status without selecting it: dropping status
    from the producer would break it just the same."""
    contract = project_copy / "shared" / "schemas" / "stg_orders.yml"
    contract.write_text(
        "version: 1\nmodels:\n  - name: staging.stg_orders\n    producer: sqlmesh\n    consumers: [dbt]\n"
        "    columns:\n"
        + "".join(
            f"      - name: {c}\n        data_type: {t}\n"
            for c, t in [
                ("order_id", "integer"),
                ("customer_id", "integer"),
                ("order_date", "date"),
                ("amount", "decimal(10, 2)"),
            ]
        )
    )
    _, findings = check_project_contracts(load_project(project_copy))
    messages = {(f.severity, f.message) for f in findings if f.file == contract}
    assert (
        "warning",
        "consumer dbt:stg_completed_orders reads column 'status', which the contract does not promise",
    ) in messages
    assert (
        "warning",
        "consumer sqlmesh:intermediate.customer_lifetime reads column 'status', which the contract does not promise",
    ) in messages


@pytest.mark.slow
def test_a_sqlmesh_change_narrowing_a_contracted_column_fails_the_check_before_anything_runs(
    project_copy: Path,
) -> None:
    from airflow_provider_dualengine.compiled import compile_project

    model = project_copy / "sqlmesh" / "models" / "intermediate" / "customer_lifetime.sql"
    model.write_text(
        model.read_text()
        .replace("completed_orders BIGINT", "completed_orders SMALLINT")
        .replace("::BIGINT AS completed_orders", "::SMALLINT AS completed_orders")
    )
    compile_project(load_project(project_copy))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dualengine")), "contracts", "check", str(project_copy)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "error: customer_lifetime.yml: models[0].columns[1].data_type: column 'completed_orders' is promised as bigint but intermediate.customer_lifetime produces SMALLINT (narrower)"
        in result.stdout
    )


def test_contracts_diff_cli_blocks_a_breaking_change_until_the_major_version_goes_up(
    example_project: Path, tmp_path: Path, capsys
) -> None:
    import shutil

    from airflow_provider_dualengine.cli.main import main

    base = tmp_path / "deployed"
    shutil.copytree(example_project / "shared" / "schemas", base)
    text = (base / "customer_value.yml").read_text()
    # the deployed version still had customer_tier, which the project's version removed
    (base / "customer_value.yml").write_text(
        text.replace(
            "      - name: lifetime_value",
            "      - name: customer_tier\n        data_type: text\n      - name: lifetime_value",
        )
    )
    assert main(["contracts", "diff", str(example_project), "--base", str(base)]) == 1
    out = capsys.readouterr().out
    assert "customer_tier" in out and "major version" in out
    (base / "customer_value.yml").write_text(
        (base / "customer_value.yml").read_text().replace("version: 1", "version: 0")
    )
    assert (
        main(["contracts", "diff", str(example_project), "--base", str(base), "--json"]) == 0
    )  # 0 -> 1 is a major bump
    assert '"blocking": false' in capsys.readouterr().out


def test_contracts_diff_against_prod_reads_the_deployed_relations(
    example_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import json

    import duckdb

    from airflow_provider_dualengine.cli.main import main

    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("CREATE SCHEMA staging; CREATE SCHEMA analytics")
        # prod scores are FLOAT (4 bytes): narrower than the contract's double
        db.execute(
            "CREATE TABLE staging.customer_enhanced (customer_id INTEGER, customer_name TEXT, customer_tier TEXT, customer_score FLOAT)"
        )
        db.execute(
            "CREATE TABLE analytics.customer_value (customer_id INTEGER, customer_tier TEXT, lifetime_value DECIMAL(18, 2), value_band TEXT)"
        )
        # intermediate.customer_lifetime is not deployed at all
    monkeypatch.setenv("AIRFLOW_CONN_DUALENGINE_WAREHOUSE", json.dumps({"conn_type": "duckdb", "host": str(path)}))
    assert main(["contracts", "diff", str(example_project), "--against-prod", "--json"]) == 1
    live = json.loads(capsys.readouterr().out)["live"]
    blocking = {(c["model"], c["column"], c["kind"]) for c in live if c["blocking"]}
    assert ("staging.customer_enhanced", "customer_score", "live_type_narrowed") in blocking
    assert ("intermediate.customer_lifetime", "customer_id", "live_column_missing") in blocking
    assert not any(c["model"] == "customer_value" and c["blocking"] for c in live)
