"""What governance/facts.py reads from the engines' own files, and what a glob names: the
injected CTEs of dbt's ephemeral models stay out of a reader's SQL (its complexity is its
own), a Python model's description is its @model function's docstring (never a helper's),
and override/declared globs reach dbt models by configured schema and by file path."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.governance.complexity import measure
from airflow_provider_dualengine.governance.facts import (
    ModelFacts,
    _sqlmesh_description,
    _without_ephemeral_ctes,
    matching_models,
)

# What dbt compiles for `select customer_id, run from {{ ref('eph_running') }}` when
# eph_running is ephemeral with a running total.
COMPILED_READER = """with __dbt__cte__eph_running as (
select customer_id, sum(amount) over (partition by customer_id order by order_date
  rows between unbounded preceding and current row) as run,
  row_number() over (order by order_date) as n
from main.orders
), recent as (select * from __dbt__cte__eph_running where n > 1)
select customer_id, run from recent"""


def test_the_ctes_dbt_injects_for_ephemeral_models_are_not_the_readers_complexity() -> None:
    ctes = [{"id": "model.shop.eph_running", "sql": "..."}]

    own = _without_ephemeral_ctes(COMPILED_READER, ctes, "duckdb")

    assert own is not None and "__dbt__cte__eph_running as" not in own
    assert "recent AS" in own  # the model's own CTE stays
    before, after = measure(COMPILED_READER, "duckdb"), measure(own, "duckdb")
    assert (before.windows, before.framed_windows, before.complex_windows) == (2, 1, True)
    assert (after.windows, after.ctes, after.complex_windows, after.score) == (0, 1, False, 2)
    # a model with no ephemeral input keeps its SQL as dbt compiled it
    assert _without_ephemeral_ctes(COMPILED_READER, [], "duckdb") == COMPILED_READER


def test_a_python_models_description_is_its_model_functions_docstring(tmp_path: Path) -> None:
    model = tmp_path / "scores.py"
    model.write_text(
        '"""Module header: how the file is organised (not a description)."""\n'
        "from sqlmesh import model\n\n"
        "def score(x):\n"
        '    """Deterministic score in [0, 100]."""\n'
        "    return x\n\n"
        "@model('staging.scores', columns={'id': 'int'})\n"
        "def execute(context, **kwargs):\n"
        '    """Customers with their score,\n    one row each."""\n'
        "    return None\n",
        encoding="utf-8",
    )

    assert _sqlmesh_description(None, model) == (
        "Customers with their score, one row each.",
        "scores.py: docstring of execute",
    )
    assert _sqlmesh_description("Declared  in\nMODEL.", model) == ("Declared in MODEL.", "scores.py: description")
    model.write_text(model.read_text().replace('    """Customers with their score,\n    one row each."""\n', ""))
    assert _sqlmesh_description(None, model) == ("", "")  # a helper's docstring is not the model's


def test_a_glob_names_dbt_models_by_configured_schema_and_by_file() -> None:
    models = [
        ModelFacts(Engine.DBT, "revenue", Path("dbt/models/marts/revenue.sql"), "table", "bi_mart"),
        ModelFacts(Engine.DBT, "stg_pay", Path("dbt/models/staging/stg_pay.sql"), "view", None),
        ModelFacts(Engine.SQLMESH, "bi_mart.scores", Path("sqlmesh/models/bi/scores.sql"), "FULL", "bi_mart"),
    ]

    def names(glob: str) -> list[str]:
        return [m.node_id for m in matching_models(models, glob)]

    assert names("bi_mart.*") == ["dbt:revenue", "sqlmesh:bi_mart.scores"]  # the seed's force_dbt glob
    assert names("dbt/models/marts/*") == ["dbt:revenue"]
    assert names("dbt:stg_*") == ["dbt:stg_pay"]
    assert names("scores") == ["sqlmesh:bi_mart.scores"]
    assert names("marts.*") == []  # a folder is no schema
