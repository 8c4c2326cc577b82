"""Static freshness rules: an SLA that can never be measured is an error before anything runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_dualengine.config.contracts import ContractModel
from airflow_provider_dualengine.contracts.freshness import cron_interval, freshness_findings
from airflow_provider_dualengine.engines.catalog import CatalogModel
from airflow_provider_dualengine.graph import Engine


def _contract(**sla: str) -> ContractModel:
    return ContractModel.model_validate(
        {"name": "m", "producer": "sqlmesh", "columns": [{"name": "id", "data_type": "int"}], "sla": sla}
    )


def _model(engine: Engine, kind: str, cron: str | None = None) -> CatalogModel:
    return CatalogModel(engine=engine.value, name="m", kind=kind, cron=cron)


@pytest.mark.parametrize(
    ("engine", "kind"),
    [(Engine.SQLMESH, "VIEW"), (Engine.SQLMESH, "EMBEDDED"), (Engine.DBT, "view"), (Engine.DBT, "ephemeral")],
)
def test_a_view_without_a_freshness_column_is_an_error(engine: Engine, kind: str) -> None:
    [(key, severity, message, hint)] = freshness_findings(
        _contract(freshness="< 1 hour"), (engine, "m"), {"id": "INT"}, _model(engine, kind)
    )
    assert (key, severity) == ("sla.freshness", "error")
    assert f"{engine.value} model m is a {kind.lower()}, which has no write of its own" in message
    assert "freshness_column" in hint


def test_a_view_with_a_freshness_column_is_measurable() -> None:
    columns = {"id": "INT", "loaded_at": "TIMESTAMP"}
    spec = _contract(freshness="< 1 hour", freshness_column="loaded_at")
    assert freshness_findings(spec, (Engine.DBT, "m"), columns, _model(Engine.DBT, "view")) == []


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("loadedat", "freshness_column 'loadedat' is not a column of m (it has: id, loaded_at)"),
        ("id", "freshness_column 'id' of m is INT, not a date or timestamp"),
    ],
)
def test_a_freshness_column_must_be_a_date_or_timestamp_of_the_model(column: str, message: str) -> None:
    columns = {"id": "INT", "loaded_at": "TIMESTAMP"}
    spec = _contract(freshness="< 1 hour", freshness_column=column)
    [(key, severity, text, _)] = freshness_findings(
        spec, (Engine.SQLMESH, "m"), columns, _model(Engine.SQLMESH, "FULL")
    )
    assert (key, severity, text) == ("sla.freshness_column", "error", message)


def test_a_cron_slower_than_the_sla_is_a_warning() -> None:
    model = _model(Engine.SQLMESH, "FULL", "@daily")
    [(key, severity, message, _)] = freshness_findings(
        _contract(freshness="< 1 hour"), (Engine.SQLMESH, "m"), {}, model
    )
    assert (key, severity) == ("sla.freshness", "warning")
    assert "m runs on cron '@daily' (every 1 day)" in message
    assert freshness_findings(_contract(freshness="< 1 day"), (Engine.SQLMESH, "m"), {}, model) == []


def test_a_table_producer_without_a_column_is_dated_by_its_engine() -> None:
    for engine, kind in ((Engine.SQLMESH, "INCREMENTAL_BY_TIME_RANGE"), (Engine.DBT, "table")):
        assert freshness_findings(_contract(freshness="< 1 day"), (engine, "m"), {}, _model(engine, kind)) == []


@pytest.mark.parametrize(
    ("cron", "interval"),
    [
        ("@hourly", timedelta(hours=1)),
        ("@daily", timedelta(days=1)),
        ("*/15 * * * *", timedelta(minutes=15)),
        ("nonsense", None),
    ],
)
def test_cron_interval(cron: str, interval: timedelta | None) -> None:
    assert cron_interval(cron) == interval
