"""The columns check on what SQLMesh Python models return: matching, message, installation."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from sqlglot import exp
from sqlmesh.core.model import definition

from airflow_provider_dualengine.engines.sqlmesh import python_models
from airflow_provider_dualengine.engines.sqlmesh.python_models import (
    PythonModelColumnsMismatch,
    check_returned_columns,
    compare_columns,
    install_columns_check,
    rename_hints,
)

DECLARED = ["customer_id", "customer_name", "customer_tier", "customer_score"]


class FakeModel:
    """What the check reads from a PythonModel."""

    def __init__(self, columns: list[str] | None = DECLARED, dialect: str = "duckdb", managed: Any = None):
        self.name = "staging.customer_enhanced"
        self._path = "/project/models/shared/customer_enhanced.py"
        self.dialect = dialect
        self.columns_to_types = {c: exp.DataType.build("text") for c in columns} if columns is not None else None
        self.managed_columns = managed or {}
        self.frames: list[Any] = []
        self.closed = False

    def render(self, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from self.frames
        finally:
            self.closed = True


def frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({c: [1] for c in columns})


def test_columns_match_case_insensitively_after_dialect_normalization() -> None:
    assert compare_columns(DECLARED, ["Customer_ID", "CUSTOMER_NAME", "customer_tier", "customer_score"], "duckdb") == (
        [],
        [],
    )
    assert compare_columns(["CUSTOMER_ID"], ["customer_id"], "snowflake") == ([], [])
    assert compare_columns(DECLARED, ["customer_id", "customer_name", "tier", "customer_score", "x"], "postgres") == (
        ["customer_tier"],
        ["tier", "x"],
    )


def test_a_renamed_column_is_suggested_once_and_unrelated_ones_are_not() -> None:
    assert rename_hints(["customer_tier"], ["tier"]) == {"customer_tier": "tier"}
    assert rename_hints(["customer_score"], ["customer_scor", "score"]) == {"customer_score": "customer_scor"}
    assert rename_hints(["customer_tier", "customer_name"], ["custmer_tier"]) == {"customer_tier": "custmer_tier"}
    assert rename_hints(["customer_tier"], ["amount", "id"]) == {}


def test_the_error_names_model_lists_missing_rename_and_fix() -> None:
    model = FakeModel()
    with pytest.raises(PythonModelColumnsMismatch) as raised:
        check_returned_columns(model, frame("customer_id", "customer_name", "tier", "customer_score"))
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.model, error.missing, error.extra) == ("staging.customer_enhanced", ["customer_tier"], ["tier"])
    message = str(error)
    assert message.splitlines()[0] == (
        "Python model staging.customer_enhanced returned a DataFrame without declared column(s): "
        "missing `customer_tier`; returned column `tier` looks like it."
    )
    assert "declared in @model(columns=...): customer_id, customer_name, customer_tier, customer_score" in message
    assert "returned by the DataFrame: customer_id, customer_name, tier, customer_score" in message
    assert "returned but not declared (SQLMesh ignores them): tier" in message
    assert (
        "Fix in /project/models/shared/customer_enhanced.py: make staging.customer_enhanced's DataFrame return "
        "every declared column (add or rename it), or change `columns=` in its @model(...)"
    ) in message


def test_long_column_lists_are_shortened_but_missing_names_stay_first() -> None:
    declared = [f"c{i}" for i in range(100)]
    with pytest.raises(PythonModelColumnsMismatch) as raised:
        check_returned_columns(FakeModel(declared), frame(*declared[:99]))
    message = str(raised.value)
    assert message.splitlines()[0].endswith("missing `c99`.")
    assert "c39, ... and 60 more" in message and len(message) < 2000


@pytest.mark.parametrize(
    "model, returned",
    [
        (FakeModel(columns=None), frame("anything")),  # nothing declared: nothing to check
        (FakeModel(), exp.select("customer_id").from_("t")),  # a SQL query, not a DataFrame
        (FakeModel(), pd.DataFrame()),  # no columns at all: SQLMesh's own empty-DataFrame error is clearer
        (FakeModel(), frame(*DECLARED, "extra")),  # extras alone: SQLMesh ignores them
        (FakeModel(["id", "valid_from"], managed={"valid_from": None}), frame("id")),  # SCD2 columns SQLMesh adds
    ],
)
def test_what_passes_the_check(model: FakeModel, returned: Any) -> None:
    check_returned_columns(model, returned)


def test_any_object_with_columns_is_checked() -> None:
    class SparkLike:
        columns = ["customer_id"]

    with pytest.raises(PythonModelColumnsMismatch, match="missing `customer_name`"):
        check_returned_columns(FakeModel(), SparkLike())


def test_every_yielded_frame_is_checked_before_it_reaches_sqlmesh() -> None:
    model = FakeModel()
    model.frames = [frame(*DECLARED), frame("customer_id")]
    render = python_models._checked(FakeModel.render)
    received = []
    with pytest.raises(PythonModelColumnsMismatch, match="missing `customer_name`"):
        for df in render(model):
            received.append(df)
    assert len(received) == 1  # the bad second frame was never handed over
    assert model.closed


@pytest.fixture
def unwrapped_render(monkeypatch: pytest.MonkeyPatch) -> Any:
    """PythonModel.render as SQLMesh ships it (restored afterwards)."""
    original = definition.PythonModel.render
    original = getattr(original, "__wrapped__", original)
    monkeypatch.setattr(definition.PythonModel, "render", original)
    return original


def test_install_wraps_render_once_across_threads(unwrapped_render: Any) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(install_columns_check())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
    wrapped = definition.PythonModel.render
    assert wrapped is not unwrapped_render and wrapped.__wrapped__ is unwrapped_render
    assert install_columns_check() is True and definition.PythonModel.render is wrapped


def test_install_does_nothing_on_a_sqlmesh_without_python_model_render(
    unwrapped_render: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(definition, "PythonModel")
    assert install_columns_check() is False
    monkeypatch.undo()
    monkeypatch.setattr(definition.PythonModel, "render", lambda self, **kwargs: [])  # not a generator
    assert install_columns_check() is False
    assert not hasattr(definition.PythonModel.render, "__wrapped__")
