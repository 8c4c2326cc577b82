"""`dualengine impact` on a hand-built project: reach, risk, checks, and the contracts
folder the project names (not a fixed `shared/schemas`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_dualengine.cli.main import main
from airflow_provider_dualengine.graph.impact import analyze_impact

from ._synthetic import unified_graph, write_contract, write_project


def test_impact_reads_the_contracts_folder_the_project_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "tiny"
    live = write_contract(root / "contracts" / "live", "mart", "dbt", "mart.yml")
    write_contract(root / "shared" / "schemas", "staging.orders", "sqlmesh", "decoy.yml")  # the default folder, unused
    write_project(root, {"contracts": "contracts/live"})

    assert main(["impact", str(root), "staging.orders", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["sqlmesh:staging.orders"]
    assert report["contracts_to_check"] == [str(live)]
    assert report["risk_level"] == "high"


def test_impact_of_a_model_across_engines(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    mart = write_contract(contracts, "mart", "dbt", "mart.yml")
    report = analyze_impact(unified_graph(), ["raw.orders", "dbt:customers"], contracts)
    assert report["sqlmesh:raw.orders"] == {
        "downstream": [
            {"engine": "sqlmesh", "model": "staging.orders", "stage": None},
            {"engine": "dbt", "model": "mart", "stage": None},
            {"engine": "sqlmesh", "model": "reporting.summary", "stage": None},
        ],
        "impact_scope": {
            "models": 3,
            "by_engine": {"sqlmesh": 2, "dbt": 1},
            "cross_engine_models": ["dbt:mart"],
            "stages": [],
        },
        "risk_level": "high",
        "checks_to_run": {"sqlmesh:staging.orders": ["not_null_id"], "dbt:mart": ["unique_mart_id"]},
        "contracts_to_check": [str(mart)],
    }
    assert report["dbt:customers"]["risk_level"] == "low"
    assert report["dbt:customers"]["downstream"] == []
