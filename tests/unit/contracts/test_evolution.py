"""Breaking-change detection between contract versions, and against a live schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.contracts import Contract, load_contract_file
from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.contracts.evolution import (
    Change,
    EvolutionReport,
    deprecated_reads,
    diff_contracts,
    diff_dirs,
    diff_live_schema,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "transforms" / "shared" / "schemas" / "customer_enhanced.yml"
MODEL = "staging.customer_enhanced"


# A snapshot of EXAMPLE (that file evolves with the example project; these tests must not).
BASE = """\
version: 2
models:
  - name: staging.customer_enhanced
    description: "Customer data enhanced with scoring logic (tier + order history, 0-100)"
    columns:
      - name: customer_id
        data_type: integer
        constraints:
          - type: not_null
          - type: unique
      - name: customer_name
        data_type: text
      - name: customer_tier
        data_type: text
        constraints:
          - type: not_null
          - type: accepted_values
            values: [bronze, silver, gold]
      - name: customer_score
        data_type: double
        constraints:
          - type: not_null
          - type: check
            expression: "customer_score >= 0 AND customer_score <= 100"
    producer: sqlmesh
    consumers: [dbt]
    sla:
      freshness: "< 1 hour"
"""


@pytest.fixture
def base_text() -> str:
    return BASE


def test_example_contract_has_no_changes_against_itself() -> None:
    contracts, issues = load_contract_file(EXAMPLE)
    assert not issues and contracts
    assert diff_contracts(contracts, contracts).changes == ()


def _load(tmp_path: Path, name: str, text: str) -> list[Contract]:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    path = folder / "customer_enhanced.yml"
    path.write_text(text)
    contracts, issues = load_contract_file(path)
    assert not issues, [i.render() for i in issues]
    return contracts


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, f"fixture text not found: {old!r}"
    return text.replace(old, new, 1)


def _diff(tmp_path: Path, old_text: str, new_text: str) -> EvolutionReport:
    return diff_contracts(_load(tmp_path, "old", old_text), _load(tmp_path, "new", new_text))


def _only(report: EvolutionReport, kind: str) -> Change:
    found = [c for c in report.changes if c.kind == kind]
    assert len(found) == 1, report.summary()
    return found[0]


def _bump(text: str) -> str:
    return _edit(text, "version: 2\n", "version: 3\n")


REMOVE_NAME = ("      - name: customer_name\n        data_type: text\n", "")
NEW_COLUMN = (
    "    producer: sqlmesh",
    "      - name: signup_date\n        data_type: date\n        constraints:\n          - type: not_null\n    producer: sqlmesh",
)

BREAKING_EDITS = {
    "column_removed": [REMOVE_NAME],
    "column_renamed": [("name: customer_name\n", "name: full_name\n")],
    "type_narrowed": [("data_type: double", "data_type: float")],
    "type_changed": [("data_type: integer", "data_type: text")],
    "constraint_dropped": [
        (
            "      - name: customer_id\n        data_type: integer\n        constraints:\n          - type: not_null\n",
            "      - name: customer_id\n        data_type: integer\n        constraints:\n",
        )
    ],
    "nullability_tightened": [
        (
            "name: customer_name\n        data_type: text\n",
            "name: customer_name\n        data_type: text\n        constraints: [{type: not_null}]\n",
        )
    ],
    "accepted_values_loosened": [("[bronze, silver, gold]", "[bronze, silver, gold, platinum]")],
    "accepted_values_tightened": [("[bronze, silver, gold]", "[silver, gold]")],
    "check_changed": [("customer_score <= 100", "customer_score <= 1000")],
    "sla_loosened": [('freshness: "< 1 hour"', 'freshness: "< 2 hours"')],
}


@pytest.mark.parametrize("kind", sorted(BREAKING_EDITS))
def test_breaking_change_blocks_without_major_bump(tmp_path: Path, base_text: str, kind: str) -> None:
    new_text = base_text
    for old, new in BREAKING_EDITS[kind]:
        new_text = _edit(new_text, old, new)
    report = _diff(tmp_path, base_text, new_text)
    change = _only(report, kind)
    assert change.breaking and not change.allowed and change.blocking
    assert report.blocking
    assert "bump the contract's major version (2 -> 3)" in change.hint
    assert "BLOCKING" in report.summary()


@pytest.mark.parametrize("kind", sorted(BREAKING_EDITS))
def test_major_bump_allows_breaking_change(tmp_path: Path, base_text: str, kind: str) -> None:
    new_text = _bump(base_text)
    for old, new in BREAKING_EDITS[kind]:
        new_text = _edit(new_text, old, new)
    report = _diff(tmp_path, base_text, new_text)
    change = _only(report, kind)
    assert change.breaking and change.allowed and not change.blocking
    assert not report.blocking
    assert "allowed by the major version bump (2 -> 3)" in change.hint


def test_messages_name_what_changed(tmp_path: Path, base_text: str) -> None:
    removed = _only(_diff(tmp_path, base_text, _edit(base_text, *REMOVE_NAME)), "column_removed")
    assert (removed.model, removed.column) == (MODEL, "customer_name")
    assert removed.detail == "column 'customer_name' (text) was removed"
    assert "tell consumers (dbt) to stop reading 'customer_name', or keep the column" in removed.hint

    renamed = _only(
        _diff(tmp_path, base_text, _edit(base_text, "name: customer_name\n", "name: full_name\n")), "column_renamed"
    )
    assert renamed.detail == "column 'customer_name' looks renamed to 'full_name' (text -> text)"

    narrowed = _only(
        _diff(tmp_path, base_text, _edit(base_text, "data_type: integer", "data_type: smallint")), "type_narrowed"
    )
    assert narrowed.detail == "type of 'customer_id' narrowed (integer -> smallint)"

    loosened = _only(
        _diff(tmp_path, base_text, _edit(base_text, "[bronze, silver, gold]", "[bronze, silver, gold, platinum]")),
        "accepted_values_loosened",
    )
    assert "accepts new values [platinum]" in loosened.detail
    assert "tell consumers (dbt) to handle [platinum]" in loosened.hint

    sla = _only(
        _diff(tmp_path, base_text, _edit(base_text, 'freshness: "< 1 hour"', 'freshness: "< 2 hours"')), "sla_loosened"
    )
    assert sla.detail == "freshness SLA loosened from '< 1 hour' to '< 2 hours'"


def test_renamed_column_is_one_change(tmp_path: Path, base_text: str) -> None:
    report = _diff(tmp_path, base_text, _edit(base_text, "name: customer_name\n", "name: full_name\n"))
    assert report.kinds() == ["column_renamed"]


def test_removed_column_of_other_type_is_not_a_rename(tmp_path: Path, base_text: str) -> None:
    new_text = _edit(_edit(base_text, *REMOVE_NAME), *NEW_COLUMN)
    assert sorted(_diff(tmp_path, base_text, new_text).kinds()) == ["column_added", "column_removed"]


def test_model_removed(tmp_path: Path, base_text: str) -> None:
    other = _edit(base_text, "name: staging.customer_enhanced", "name: staging.other")
    report = _diff(tmp_path, base_text, other)
    removed = _only(report, "model_removed")
    assert (
        removed.blocking
        and removed.detail == f"model '{MODEL}' no longer has a contract (was in customer_enhanced.yml)"
    )
    assert _only(report, "model_added").model == "staging.other"
    assert not _only(_diff(tmp_path, base_text, _bump(other)), "model_removed").blocking


def test_new_constraint_on_existing_column_is_breaking(tmp_path: Path, base_text: str) -> None:
    new_text = _edit(
        base_text,
        "name: customer_name\n        data_type: text\n",
        "name: customer_name\n        data_type: text\n        constraints: [{type: unique}]\n",
    )
    assert _only(_diff(tmp_path, base_text, new_text), "constraint_added").blocking


def test_additive_change_is_not_breaking(tmp_path: Path, base_text: str) -> None:
    report = _diff(tmp_path, base_text, _edit(base_text, *NEW_COLUMN))
    added = _only(report, "column_added")
    assert added.column == "signup_date" and not added.breaking and added.allowed
    assert report.kinds() == ["column_added"]  # its not_null is part of the new column
    assert not report.blocking
    assert report.summary().startswith("No blocking contract changes")


def test_widening_and_descriptions_are_not_blocking(tmp_path: Path, base_text: str) -> None:
    new_text = _edit(base_text, "data_type: integer", "data_type: bigint")
    new_text = _edit(new_text, "(tier + order history, 0-100)", "(0-100)")
    new_text = _edit(new_text, 'freshness: "< 1 hour"', 'freshness: "< 30 minutes"')
    new_text = _edit(
        new_text, "customer_score >= 0 AND customer_score <= 100", "customer_score>=0 and customer_score<=100"
    )
    report = _diff(tmp_path, base_text, new_text)
    assert sorted(report.kinds()) == ["description_changed", "sla_tightened", "type_widened"]
    assert _only(report, "type_widened").level == "warning"
    assert not report.blocking


def test_no_changes(tmp_path: Path, base_text: str) -> None:
    report = _diff(tmp_path, base_text, base_text)
    assert report.changes == () and not report.blocking
    assert report.summary() == "No contract changes."


def test_deprecation_is_reported_and_reads_warn(tmp_path: Path, base_text: str) -> None:
    new_text = _edit(
        base_text,
        "name: customer_name\n        data_type: text\n",
        "name: customer_name\n        data_type: text\n        deprecated: true\n",
    )
    report = _diff(tmp_path, base_text, new_text)
    deprecated = _only(report, "column_deprecated")
    assert deprecated.column == "customer_name" and not deprecated.breaking and not report.blocking

    contract = _load(tmp_path, "new", new_text)[0]
    warnings = deprecated_reads(
        contract, {"dbt.customer_value": {"CUSTOMER_NAME", "customer_id"}, "dbt.other": {"customer_tier"}}
    )
    assert [(w.kind, w.column, w.breaking) for w in warnings] == [("deprecated_column_read", "customer_name", False)]
    assert (
        warnings[0].detail == f"consumer 'dbt.customer_value' still reads deprecated column 'customer_name' of {MODEL}"
    )


def test_report_to_dict(tmp_path: Path, base_text: str) -> None:
    data = _diff(tmp_path, base_text, _edit(base_text, *REMOVE_NAME)).to_dict()
    assert data["blocking"] is True and data["counts"] == {"blocking": 1, "breaking": 1, "total": 1}
    assert data["changes"][0]["kind"] == "column_removed" and data["changes"][0]["blocking"] is True


def test_live_schema(tmp_path: Path, base_text: str) -> None:
    contract = _load(tmp_path, "c", base_text)[0]
    live = {
        "customer_id": "BIGINT",
        "customer_name": "character varying",
        "customer_score": "double precision",
        "loaded_at": "timestamp with time zone",
    }
    changes = diff_live_schema(contract, live, "postgres")
    by_kind = {c.kind: c for c in changes}
    assert sorted(by_kind) == ["live_column_extra", "live_column_missing", "live_type_widened"]
    assert by_kind["live_column_missing"].column == "customer_tier" and by_kind["live_column_missing"].blocking
    assert not by_kind["live_type_widened"].breaking  # integer promised, bigint delivered
    assert by_kind["live_column_extra"].column == "loaded_at" and by_kind["live_column_extra"].level == "info"


def test_live_schema_narrower_and_different(tmp_path: Path, base_text: str) -> None:
    contract = _load(tmp_path, "c", _edit(base_text, "data_type: integer", "data_type: bigint"))[0]
    live = {
        "customer_id": "int4",
        "customer_name": "text",
        "customer_tier": "character varying",
        "customer_score": "date",
    }
    changes = diff_live_schema(contract, live, "postgres")
    assert [(c.kind, c.column, c.blocking) for c in changes] == [
        ("live_type_narrowed", "customer_id", True),
        ("live_type_changed", "customer_score", True),
    ]
    assert changes[0].detail == "'customer_id' is narrower live than promised (contract bigint, live int4)"


def test_diff_dirs(tmp_path: Path, base_text: str) -> None:
    _load(tmp_path, "old", base_text)
    _load(tmp_path, "new", _edit(base_text, *REMOVE_NAME))
    assert diff_dirs(tmp_path / "old", tmp_path / "new").kinds() == ["column_removed"]


def test_diff_dirs_reports_invalid_files(tmp_path: Path, base_text: str) -> None:
    _load(tmp_path, "old", base_text)
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "broken.yml").write_text(_edit(base_text, "data_type: integer", "data_type: intger_typo"))
    with pytest.raises(DualEngineConfigError) as info:
        diff_dirs(tmp_path / "old", tmp_path / "new")
    assert "broken.yml" in str(info.value)
    with pytest.raises(DualEngineConfigError, match="contract folder does not exist"):
        diff_dirs(tmp_path / "old", tmp_path / "missing")
