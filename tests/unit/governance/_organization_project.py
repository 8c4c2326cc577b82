"""A copy of the example with one planted case per model-organization rule, compiled once
per test process (shared by test_layers, test_naming, test_directories and
tests/unit/cli/test_lint_cli.py).

Planted, each for one rule (the example's own models add only the presentation-layer
finding of reporting.value_band_summary):

    dbt/models/raw/raw_payments.sql                dbt model in the SQLMesh-only raw layer, by folder
    dbt/models/intermediate/orders_by_tag.sql      the same, by its tag `raw`
    dbt/models/intermediate/orders_by_schema.sql   the same, by its schema `raw`
    dbt/models/marts/finance_revenue.sql           dbt model tagged with the SQLMesh-only domain finance
    sqlmesh/models/intermediate/order_margin.sql   in two domains (tags finance, marketing); no sqlm_ prefix
    sqlmesh/models/intermediate/legacy_totals.sql  no sqlm_ prefix, but exempt (legacy_*)
    dbt/models/marts/order_totals.sql              hard-codes the SQLMesh relation staging.stg_orders
    sqlmesh/models/intermediate/sqlm_tier_summary.sql  names the dbt relation analytics.customer_order_summary
    dbt/models/sources.yml (source sqlmesh_raw)    a source over raw.raw_orders without meta.sqlmesh_model
    sqlmesh/models/adhoc/sqlm_scratch.sql          a model file in a folder not allowed
    shared/tests/                                  removed
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

from tests.conftest import EXAMPLE_PROJECT

CONFIG = """\
layers:
  find_by: [folder, tag, schema]
  severity: error
  definitions:
    raw:
      engines: [sqlmesh]
      folders: [sqlmesh/models/raw, dbt/models/raw]
      tags: [raw]
      schemas: [raw]
      reason: heavy processing, Python logic
    integration: {engines: [sqlmesh], folders: [sqlmesh/models/staging, sqlmesh/models/shared]}
    business: {engines: [sqlmesh, dbt], folders: [sqlmesh/models/intermediate, dbt/models/staging]}
    presentation:
      engines: [dbt]
      folders: [dbt/models/marts, sqlmesh/models/reporting]
      reason: BI-friendly, simple aggregations
domains:
  find_by: [tag, folder]
  severity: warning
  definitions:
    finance: {engines: [sqlmesh], tags: [finance], reason: compliance}
    marketing: {engines: [dbt], tags: [marketing]}
naming_conventions:
  severity: warning
  sqlmesh_models: {prefix: sqlm_}
  dbt_models: {prefix: null}
  shared_interfaces: {prefix: null}
  cross_engine_refs: {format: engine.model_name, severity: error}
  exempt:
    - {models: ["raw.*", "staging.*", "reporting.*", "customer_lifetime"], reason: the example's names}
    - {models: ["legacy_*"], reason: read by the old dashboards}
directory_structure:
  severity: error
  sqlmesh_model_folders: [raw, staging, intermediate, shared, reporting]
  dbt_model_folders: [staging, intermediate, marts, raw]
"""

FILES = {
    "dbt/models/raw/raw_payments.sql": "select 1 as payment_id\n",
    "dbt/models/intermediate/orders_by_tag.sql": (
        "{{ config(tags=['raw']) }}\nselect order_id from {{ source('sqlmesh_staging', 'stg_orders') }}\n"
    ),
    "dbt/models/intermediate/orders_by_schema.sql": (
        "{{ config(schema='raw') }}\nselect order_id from {{ ref('staging.stg_orders') }}\n"
    ),
    "dbt/models/marts/finance_revenue.sql": (
        "{{ config(tags=['finance']) }}\nselect sum(amount) as revenue from {{ ref('stg_completed_orders') }}\n"
    ),
    "dbt/models/marts/order_totals.sql": (
        "{# not a read: from staging.customer_enhanced #}\n"
        "select customer_id, sum(amount) as total\nfrom staging.stg_orders\ngroup by customer_id\n"
    ),
    "sqlmesh/models/intermediate/order_margin.sql": (
        "MODEL (name intermediate.order_margin, kind FULL, tags (finance, marketing));\n"
        "SELECT order_id, amount * 0.2 AS margin FROM staging.stg_orders\n"
    ),
    "sqlmesh/models/intermediate/legacy_totals.sql": (
        "MODEL (name intermediate.legacy_totals, kind FULL);\n"
        "SELECT customer_id, SUM(amount) AS total FROM staging.stg_orders GROUP BY customer_id\n"
    ),
    "sqlmesh/models/intermediate/sqlm_tier_summary.sql": (
        "MODEL (name intermediate.sqlm_tier_summary, kind FULL);\n"
        "SELECT customer_tier, COUNT(*) AS customers FROM analytics.customer_order_summary GROUP BY customer_tier\n"
    ),
    "sqlmesh/models/adhoc/sqlm_scratch.sql": "MODEL (name adhoc.sqlm_scratch, kind FULL);\nSELECT 1 AS x\n",
}

SOURCE_WITHOUT_META = """\
  - name: sqlmesh_raw
    schema: "raw{{ var('sqlmesh_schema_suffix', '') }}"
    tables:
      - name: raw_orders
"""

# (rule, model) of every finding the planted project must give, and nothing else.
LAYER_FINDINGS = {
    ("layers.raw", "dbt:raw_payments"),
    ("layers.raw", "dbt:orders_by_tag"),
    ("layers.raw", "dbt:orders_by_schema"),
    ("layers.presentation", "sqlmesh:reporting.value_band_summary"),
    ("domains.finance", "dbt:finance_revenue"),
    ("domains.overlap", "sqlmesh:intermediate.order_margin"),
}
NAMING_FINDINGS = {
    ("naming.sqlmesh_models.prefix", "sqlmesh:intermediate.order_margin"),
    ("naming.cross_engine_refs.dbt_hard_coded", "dbt:order_totals"),
    ("naming.cross_engine_refs.sqlmesh_hard_coded", "sqlmesh:intermediate.sqlm_tier_summary"),
    ("naming.cross_engine_refs.source_meta", "dbt:source:sqlmesh_raw.raw_orders"),
}
DIRECTORY_FINDINGS = {
    ("directories.sqlmesh_models", "sqlmesh:adhoc.sqlm_scratch"),
    ("directories.missing", ""),
}


def copy_example(target: Path) -> Path:
    """The example's files (no compiled output, no warehouse)."""
    shutil.copytree(
        EXAMPLE_PROJECT, target, ignore=shutil.ignore_patterns("*.duckdb", "logs", ".cache", "target", "__pycache__")
    )
    return target


@functools.cache
def planted_project(base: Path) -> Path:
    """The planted copy under `base`, compiled (one compile per test process)."""
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    project = copy_example(base / "organization-planted" / "transforms")
    for relative, text in FILES.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text, encoding="utf-8")
    sources = project / "dbt/models/sources.yml"
    sources.write_text(sources.read_text(encoding="utf-8") + SOURCE_WITHOUT_META, encoding="utf-8")
    shutil.rmtree(project / "shared/tests")
    (project / "config/model_organization.yml").write_text(CONFIG, encoding="utf-8")
    compile_project(load_project(project))
    return project
