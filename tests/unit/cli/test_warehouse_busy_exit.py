"""A busy warehouse is its own exit code (3: retry later), printed like every known error."""

from __future__ import annotations

import argparse

import pytest

from airflow_provider_dualengine.cli import deployments
from airflow_provider_dualengine.engines.connections import WarehouseUnreachable
from airflow_provider_dualengine.hooks.warehouse import WarehouseBusy
from tests.unit.cli._corpus import assert_clean_failure, run_cli

BUSY = (
    "the warehouse of Airflow connection 'dualengine_warehouse' is busy: another process (PID 7) holds DuckDB's "
    "single writer lock on /data/shop.duckdb (usually a running pipeline task); waited 1.0 s for it\n"
    "    fix: try again when it finishes; nothing was changed"
)


def _raising(exc: Exception):
    def verb(args: argparse.Namespace) -> int:
        raise exc

    return verb


def test_a_busy_warehouse_exits_3_with_its_message(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployments, "list_", _raising(WarehouseBusy(BUSY)))
    code, out, err = run_cli(capsys, "deployments", ".")
    assert_clean_failure(code, err, exit_code=3)
    assert (out, err) == ("", f"error: {BUSY}\n")


def test_an_unreachable_warehouse_still_exits_1(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployments, "list_", _raising(WarehouseUnreachable("cannot connect")))
    code, _, err = run_cli(capsys, "deployments", ".")
    assert_clean_failure(code, err, "error: cannot connect", exit_code=1)


def test_debug_shows_the_busy_error_itself(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployments, "list_", _raising(WarehouseBusy(BUSY)))
    with pytest.raises(WarehouseBusy):
        run_cli(capsys, "deployments", ".", "--debug")
