from __future__ import annotations

from pathlib import Path

from airflow_provider_dualengine.sensors.external_input import ExternalInputSensor


def test_waits_until_every_path_has_a_non_empty_file(tmp_path: Path) -> None:
    sensor = ExternalInputSensor(
        task_id="source_data", paths=["landing/customers.csv", "landing/orders_*.csv"], base_dir=str(tmp_path)
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    assert sensor.poke({}) is False
    (landing / "customers.csv").write_text("id\n1\n")
    (landing / "orders_2024.csv").write_text("")  # empty: still landing
    assert sensor.poke({}) is False
    (landing / "orders_2024.csv").write_text("id\n1\n")
    assert sensor.poke({}) is True
    assert sensor.mode == "reschedule"


def test_lineage_names_the_files_found_and_inlets_the_literal_ones(tmp_path: Path) -> None:
    sensor = ExternalInputSensor(
        task_id="source_data", paths=["landing/customers.csv", "landing/orders_*.csv"], base_dir=str(tmp_path)
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    for name in ("customers.csv", "orders_2024.csv", "orders_2025.csv"):
        (landing / name).write_text("id\n1\n")
    # a glob is known only when it matches; a literal path can be an inlet Asset at parse time
    assert sensor.literal_files() == [str(landing / "customers.csv")]
    lineage = sensor.get_openlineage_facets_on_complete(None)
    assert sorted((d.namespace, d.name) for d in lineage.inputs) == [
        ("file", str(landing / name)) for name in ("customers.csv", "orders_2024.csv", "orders_2025.csv")
    ]
