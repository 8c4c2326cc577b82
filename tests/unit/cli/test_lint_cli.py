"""`dualengine lint` (cli/lint.py) through the CLI's main(): findings grouped by file then
counted, --json, the exit code (1 only for an error finding), on the planted compiled copy,
the example (warnings only: exit 0), a project without config/model_organization.yml, an
uncompiled project and a broken file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.cli.main import main
from tests.unit.governance._organization_project import (
    DIRECTORY_FINDINGS,
    LAYER_FINDINGS,
    NAMING_FINDINGS,
    copy_example,
    planted_project,
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["lint", *argv])
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_project(tmp_path_factory.getbasetemp())


def test_the_planted_project_fails_with_every_finding_grouped_by_file(
    planted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, str(planted))

    assert code == 1
    headers = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headers == [
        "dbt/models/intermediate/orders_by_schema.sql",
        "dbt/models/intermediate/orders_by_tag.sql",
        "dbt/models/marts/finance_revenue.sql",
        "dbt/models/marts/order_totals.sql",
        "dbt/models/raw/raw_payments.sql",
        "dbt/models/sources.yml",
        "shared/tests",
        "sqlmesh/models/adhoc/sqlm_scratch.sql",
        "sqlmesh/models/intermediate/order_margin.sql",
        "sqlmesh/models/intermediate/sqlm_tier_summary.sql",
        "sqlmesh/models/reporting/value_band_summary.sql",
        "shop: 9 errors, 5 warnings in 11 files (config/model_organization.yml)",
    ]
    # the example's engine selection rules came along: lint also reports their one mismatch
    assert (
        "  warning: sqlmesh:adhoc.sqlm_scratch: runs on sqlmesh, the selection rules recommend dbt: "
        "simple_transformations [complexity score <= 3] (1: sqlglot on the rendered SQLMesh query: 1 = 1) "
        "[engine_selection.simple_transformations]\n"
        "      fix: move it to dbt, or add it to override_rules.force_sqlmesh with a reason\n"
    ) in out
    section = out.split("sqlmesh/models/intermediate/order_margin.sql\n")[1].split("\nsqlmesh/")[0]
    assert section == (
        "  warning: sqlmesh:intermediate.order_margin: is in 2 domains: finance (found by tag finance) and "
        "marketing (found by tag marketing); a model belongs to one domain [domains.overlap]\n"
        "      fix: keep only the tag of its domain: one of 'finance', 'marketing'\n"
        "  warning: sqlmesh:intermediate.order_margin: 'order_margin' lacks the SQLMesh model prefix 'sqlm_' "
        "[naming.sqlmesh_models.prefix]\n"
        "      fix: rename it to intermediate.sqlm_order_margin: change MODEL (name ...) in "
        "sqlmesh/models/intermediate/order_margin.sql and rename the file to sqlm_order_margin.sql"
    )


def test_json_holds_every_finding_and_the_counts(planted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(planted), "--json")
    document = json.loads(out)

    assert code == 1
    assert (document["project"], document["file"]) == ("shop", str(planted / "config/model_organization.yml"))
    assert {(f["rule"], f["model"]) for f in document["findings"]} == (
        LAYER_FINDINGS
        | NAMING_FINDINGS
        | DIRECTORY_FINDINGS
        | {
            ("engine_selection.simple_transformations", "sqlmesh:adhoc.sqlm_scratch"),
            # configured `schema: raw`: the example's force_sqlmesh glob raw.* names it (a dbt schema glob)
            ("engine_selection.force_sqlmesh", "dbt:orders_by_schema"),
        }
    )
    assert (document["errors"], document["warnings"]) == (9, 5)
    order_totals = next(f for f in document["findings"] if f["model"] == "dbt:order_totals")
    assert order_totals["file"] == str(planted / "dbt/models/marts/order_totals.sql")


def test_the_example_has_warnings_only_and_passes(example_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, str(example_project), "--json")
    document = json.loads(out)

    assert code == 0
    assert (document["errors"], document["warnings"]) == (0, 11)
    assert sorted({f["rule"] for f in document["findings"]}) == [
        "layers.presentation",  # reporting.value_band_summary reads a dbt mart on purpose
        "naming.dbt_models.prefix",
        "naming.shared_interfaces.prefix",
        "naming.sqlmesh_models.prefix",
    ]
    code, out = _run(capsys, str(example_project))
    assert code == 0
    assert out.splitlines()[-1] == "shop: 0 errors, 11 warnings in 10 files (config/model_organization.yml)"


def test_without_the_files_lint_says_so_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example(tmp_path / "transforms")
    (project / "config/model_organization.yml").unlink()
    (project / "config/engine_selection_rules.yml").unlink()

    code, out = _run(capsys, str(project))
    assert code == 0
    assert out.strip() == (
        f"shop: no config/model_organization.yml in {project}: layers, domains, naming and directory structure are not checked"
    )
    code, out = _run(capsys, str(project), "--json")
    assert (code, json.loads(out)["file"], json.loads(out)["findings"]) == (0, None, [])


def test_an_uncompiled_project_is_a_configuration_error_naming_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = copy_example(tmp_path / "transforms")

    assert main(["lint", str(project)]) == 1
    assert f"fix: run `dualengine compile {project}`" in capsys.readouterr().err


def test_a_broken_file_is_reported_with_its_key_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example(tmp_path / "transforms")
    (project / "config/model_organization.yml").write_text(
        "naming_conventions:\n  exempt: [{models: [legacy_*]}]\n", encoding="utf-8"
    )

    assert main(["lint", str(project)]) == 1
    assert capsys.readouterr().err == (
        "error: 1 problem in the dual-engine project configuration:\n"
        f"- {project.resolve()}/config/model_organization.yml: naming_conventions.exempt[0].reason: Field required\n"
        "    fix: say why these models are exempt (lint shows it), e.g. `reason: renamed when the dashboards move`\n"
    )
