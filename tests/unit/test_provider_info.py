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


def test_package_name_equals_distribution_and_entry_point_is_registered() -> None:
    info = get_provider_info()
    assert info["package-name"] == distribution("airflow-provider-dualengine").metadata["Name"]
    [ep] = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_dualengine")
    ]
    assert ep.load()() == info


ROLES = ("hooks", "operators", "sensors", "triggers")
# Modules of a role's folder that serve its classes without being one (not declared).
HELPERS = {
    "airflow_provider_dualengine.hooks.connections",  # the connection lookup every hook uses
    "airflow_provider_dualengine.operators.deployment_gate",  # the writers' wait for a deployment
    "airflow_provider_dualengine.operators.engine_session",  # engine tasks' threads and session settings
}


@pytest.mark.parametrize("role", ROLES)
def test_every_module_of_a_role_is_declared_and_holds_that_role(role: str) -> None:
    """A module added to hooks/ (operators/, sensors/, triggers/) and forgotten here is
    invisible to Airflow's provider manager (no connection form, no docs listing)."""
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.triggers.base import BaseTrigger

    package = importlib.import_module(f"airflow_provider_dualengine.{role}")
    on_disk = {
        f"{package.__name__}.{path.stem}"
        for path in Path(package.__file__).parent.glob("*.py")
        if path.stem != "__init__"
    } - HELPERS
    [entry] = get_provider_info()[role]
    assert sorted(entry["python-modules"]) == sorted(on_disk)
    base = {"hooks": BaseHook, "operators": BaseOperator, "sensors": BaseOperator, "triggers": BaseTrigger}[role]
    for name in entry["python-modules"]:
        module = importlib.import_module(name)
        own = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == name and issubclass(v, base)]
        assert own, f"{name} is declared under {role!r} but defines no {base.__name__}"


def test_connection_types_name_registered_hook_classes() -> None:
    for conn_type in get_provider_info()["connection-types"]:
        module, _, cls = conn_type["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn_type["connection-type"]


def test_airflow_providers_list_shows_it(metadata_db: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    listed = {p["package_name"]: p for p in json.loads(result.stdout[result.stdout.index("[") :])}
    assert listed["airflow-provider-dualengine"]["version"] == get_provider_info()["versions"][0]


def test_notifiers_are_declared_and_are_notifiers() -> None:
    from airflow.sdk import BaseNotifier

    package = importlib.import_module("airflow_provider_dualengine.notifications")
    on_disk = {p.stem for p in Path(package.__file__).parent.glob("*.py") if p.stem != "__init__"}
    declared = get_provider_info()["notifications"]
    assert {name.split(".")[-2] for name in declared} == on_disk
    for name in declared:
        module, _, cls = name.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), cls), BaseNotifier)
