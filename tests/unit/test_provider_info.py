"""The provider dict must satisfy Airflow's schema: one bad dict breaks discovery cluster-wide."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_dualengine.get_provider_info import get_provider_info

SCHEMA = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())


def test_dict_matches_airflow_schema() -> None:
    jsonschema.validate(get_provider_info(), SCHEMA)


def test_schema_check_catches_a_bad_dict() -> None:
    bad = {**get_provider_info(), "hooks": [{"python-modules": "not-a-list"}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_package_name_equals_distribution_and_entry_point_is_registered() -> None:
    info = get_provider_info()
    assert info["package-name"] == distribution("airflow-provider-dualengine").metadata["Name"]
    [ep] = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_dualengine")
    ]
    assert ep.load()() == info


def test_declared_modules_import() -> None:
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                assert importlib.import_module(module)


def test_airflow_providers_list_shows_it(metadata_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {p["package_name"]: p for p in json.loads(result.stdout[result.stdout.index("[") :])}
    assert listed["airflow-provider-dualengine"]["version"] == get_provider_info()["versions"][0]
