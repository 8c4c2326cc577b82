"""Generate a synthetic, deterministic dual-engine project for the benchmarks.

    .venv/bin/python benchmarks/generate_project.py TARGET [--sqlmesh-models 200] [--dbt-models 0]
        [--seed 7] [--layers 5] [--events 2000] [--force]

or, from Python, ``generate_project(Path("/tmp/bench"), sqlmesh_models=200, dbt_models=0)``.

The same arguments always give byte-identical files. Layout (what the provider reads):

    TARGET/
      dualengine.yml
      config/dependency_graph.yml             stage_1_sqlmesh, stage_2_sqlmesh[, stage_3_dbt]
      config/dual_engine_environments.yml     development (_dev, target dev), production
      sqlmesh/config.yaml                     duckdb gateway, DUALENGINE_DUCKDB_PATH
      sqlmesh/seeds/events.csv                id, account_id, event_date, amount
      sqlmesh/models/bench_raw/events.sql     the SEED model bench_raw.events
      sqlmesh/models/bench_lK/m_NNNN.sql      layered models bench_l1 .. bench_l<layers>
      dbt/dbt_project.yml, dbt/profiles.yml, dbt/macros/generate_schema_name.sql
      dbt/models/sources.yml, dbt/models/d_NNNN.sql   (or one bench_placeholder model)

SQLMesh models: ``sqlmesh_models`` counts every SQLMesh model, the seed included. Every
layered model has the same columns (account_id, event_date, amount, event_count) and is
unique on (account_id, event_date), so any model can read any earlier one. A model of
layer k reads one model of layer k-1 (so the layers are real depth) and 0-2 more of any
earlier layer, joined on (account_id, event_date). About 20% are INCREMENTAL_BY_TIME_RANGE
on event_date (cron '@daily', one batch: cheap); the rest are FULL. The SQL uses only
casts, SUM/COUNT/COALESCE, %, LEFT JOIN and GROUP BY, so it is valid Postgres too once
SQLMesh transpiles it.

Stages: stage_1_sqlmesh holds the seed and layers 1..layers//2, stage_2_sqlmesh the rest
(a model only reads earlier layers, so never a later stage), stage_3_dbt every dbt model.
dbt models read 1-2 SQLMesh models (source()) or earlier dbt models (ref()) and are views.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import yaml

NAME = "bench"
RAW_SCHEMA = f"{NAME}_raw"
SEED_MODEL = f"{RAW_SCHEMA}.events"
SEED_FILE = "sqlmesh/seeds/events.csv"
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2024, 3, 31)
ACCOUNTS = 100
INCREMENTAL_SHARE = 0.2
KIND_FULL = "FULL"
KIND_INCREMENTAL = "INCREMENTAL_BY_TIME_RANGE"
KIND_SEED = "SEED"

DUALENGINE_YML = f"""\
# Synthetic benchmark project written by benchmarks/generate_project.py; do not edit by hand.
name: {NAME}
warehouse: {{conn_id: dualengine_warehouse, type: duckdb}}
sqlmesh: {{path: sqlmesh, gateway: duckdb}}
dbt: {{path: dbt, profile: {NAME}, schema: analytics, manifest: target/manifest.json}}
dependency_graph: config/dependency_graph.yml
environments: config/dual_engine_environments.yml
default_environment: development
"""

ENVIRONMENTS_YML = """\
environments:
  development:
    sqlmesh: {gateway: duckdb, environment_suffix: "_dev"}
    dbt: {target: dev}
  production:
    sqlmesh: {gateway: duckdb, environment_suffix: ""}
    dbt: {target: prod}
"""

SQLMESH_CONFIG = f"""\
# The DuckDB file (data and SQLMesh state) comes from DUALENGINE_DUCKDB_PATH.
gateways:
  duckdb:
    connection:
      type: duckdb
      database: "{{{{ env_var('DUALENGINE_DUCKDB_PATH', '{NAME}.duckdb') }}}}"

default_gateway: duckdb

model_defaults:
  dialect: duckdb
  start: '{FIRST_DAY.isoformat()}'

# Dev views live in <schema>__<env> (bench_l1__dev); the dbt sources rely on it.
environment_suffix_target: schema
"""

SEED_MODEL_SQL = f"""\
MODEL (
  name {SEED_MODEL},
  kind SEED (
    path '../../seeds/events.csv'
  ),
  columns (
    id INTEGER,
    account_id INTEGER,
    event_date DATE,
    amount DECIMAL(10, 2)
  ),
  grain id
);
"""

DBT_PROJECT_YML = f"""\
# Synthetic benchmark project written by benchmarks/generate_project.py.
name: {NAME}
version: '1.0.0'
config-version: 2
profile: {NAME}

model-paths: ["models"]
macro-paths: ["macros"]
target-path: target
flags:
  send_anonymous_usage_stats: false

clean-targets: ["target", "dbt_packages", "logs"]

vars:
  # "" reads the SQLMesh prod views (bench_l1.*), "__dev" the dev views (bench_l1__dev.*).
  sqlmesh_schema_suffix: ""

models:
  {NAME}:
    +materialized: view
"""

DBT_PROFILES_YML = f"""\
# For running dbt by hand; the Airflow provider builds its profile from the warehouse connection.
{NAME}:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{{{{ env_var('DUALENGINE_DUCKDB_PATH') }}}}"
      schema: analytics_dev
      threads: 1
    prod:
      type: duckdb
      path: "{{{{ env_var('DUALENGINE_DUCKDB_PATH') }}}}"
      schema: analytics
      threads: 1
"""

GENERATE_SCHEMA_NAME_SQL = """\
{#- Every model goes to the target schema exactly, so the provider knows where it lives. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ target.schema }}
{%- endmacro %}
"""

PLACEHOLDER_SQL = "-- Keeps the dbt project valid when the benchmark has no dbt models.\nselect 1 as id\n"


class _Model:
    __slots__ = ("name", "schema", "table", "layer", "kind", "parents", "filter_mod")

    def __init__(self, name: str, layer: int, kind: str, parents: list[str], filter_mod: tuple[int, int] | None = None):
        self.name = name
        self.schema, self.table = name.split(".")
        self.layer = layer
        self.kind = kind
        self.parents = parents
        self.filter_mod = filter_mod


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _events_csv(rows: int, seed: int) -> str:
    rng = random.Random(f"{seed}:events")
    days = (LAST_DAY - FIRST_DAY).days + 1
    lines = ["id,account_id,event_date,amount"]
    for event_id in range(1, rows + 1):
        day = FIRST_DAY + timedelta(days=rng.randrange(days))
        amount = rng.randrange(100, 50_000) / 100
        lines.append(f"{event_id},{rng.randint(1, ACCOUNTS)},{day.isoformat()},{amount:.2f}")
    return "\n".join(lines) + "\n"


def _layer_sizes(total: int, layers: int) -> list[int]:
    base, extra = divmod(total, layers)
    return [base + (1 if index < extra else 0) for index in range(layers)]


def _plan_sqlmesh(count: int, layers: int, rng: random.Random) -> list[_Model]:
    """The seed plus count-1 layered models; parents always come from earlier layers."""
    width = max(4, len(str(count)))
    models = [_Model(SEED_MODEL, 0, KIND_SEED, [])]
    by_layer: list[list[str]] = [[SEED_MODEL]]
    number = 0
    for layer, size in enumerate(_layer_sizes(count - 1, layers), start=1):
        current = []
        for _ in range(size):
            number += 1
            name = f"{NAME}_l{layer}.m_{number:0{width}d}"
            kind = KIND_INCREMENTAL if rng.random() < INCREMENTAL_SHARE else KIND_FULL
            if layer == 1:
                # Only the seed is upstream; vary the rows each model keeps.
                modulus = rng.randint(2, 7)
                models.append(_Model(name, layer, kind, [SEED_MODEL], (modulus, rng.randrange(modulus))))
            else:
                first = rng.choice(by_layer[layer - 1])
                earlier = [m for group in by_layer[1:layer] for m in group if m != first]
                extra = rng.sample(earlier, min(len(earlier), rng.randint(0, 2)))
                models.append(_Model(name, layer, kind, [first, *extra]))
            current.append(name)
        by_layer.append(current)
    return models


def _model_header(model: _Model) -> str:
    if model.kind == KIND_INCREMENTAL:
        kind = f"{KIND_INCREMENTAL} (\n    time_column event_date\n  ),\n  cron '@daily'"
    else:
        kind = KIND_FULL
    return (
        f"MODEL (\n  name {model.name},\n  kind {kind},\n  grain (account_id, event_date),\n"
        "  columns (\n    account_id INTEGER,\n    event_date DATE,\n    amount DECIMAL(18, 2),\n    event_count BIGINT\n  )\n);\n\n"
    )


def _sqlmesh_sql(model: _Model) -> str:
    incremental = model.kind == KIND_INCREMENTAL
    if model.layer == 1:
        modulus, remainder = model.filter_mod
        where = [f"e.account_id % {modulus} <> {remainder}"]
        if incremental:
            where.append("e.event_date BETWEEN @start_ds AND @end_ds")
        body = (
            "SELECT\n  e.account_id::INTEGER AS account_id,\n  e.event_date::DATE AS event_date,\n"
            "  SUM(e.amount)::DECIMAL(18, 2) AS amount,\n  COUNT(*)::BIGINT AS event_count\n"
            f"FROM {SEED_MODEL} AS e\nWHERE\n  "
            + "\n  AND ".join(where)
            + "\nGROUP BY\n  e.account_id,\n  e.event_date\n"
        )
        return _model_header(model) + body
    aliases = [f"p{index}" for index in range(len(model.parents))]
    amount = " + ".join(["SUM(p0.amount)"] + [f"SUM(COALESCE({a}.amount, 0))" for a in aliases[1:]])
    count = " + ".join(["SUM(p0.event_count)"] + [f"SUM(COALESCE({a}.event_count, 0))" for a in aliases[1:]])
    lines = [
        "SELECT",
        "  p0.account_id::INTEGER AS account_id,",
        "  p0.event_date::DATE AS event_date,",
        f"  ({amount})::DECIMAL(18, 2) AS amount,",
        f"  ({count})::BIGINT AS event_count",
        f"FROM {model.parents[0]} AS p0",
    ]
    for alias, parent in zip(aliases[1:], model.parents[1:], strict=True):
        lines.append(f"LEFT JOIN {parent} AS {alias}")
        lines.append(f"  ON {alias}.account_id = p0.account_id AND {alias}.event_date = p0.event_date")
    if incremental:
        lines += ["WHERE", "  p0.event_date BETWEEN @start_ds AND @end_ds"]
    lines += ["GROUP BY", "  p0.account_id,", "  p0.event_date"]
    return _model_header(model) + "\n".join(lines) + "\n"


def _plan_dbt(count: int, sqlmesh: list[_Model], rng: random.Random) -> list[tuple[str, list[tuple[str, str]]]]:
    """dbt models as (name, [(\"source\"|\"ref\", name)]); refs only to earlier dbt models."""
    readable = [m.name for m in sqlmesh if m.kind != KIND_SEED]
    width = max(4, len(str(count)))
    planned: list[tuple[str, list[tuple[str, str]]]] = []
    for index in range(count):
        parents: list[tuple[str, str]] = []
        for _ in range(rng.randint(1, 2)):
            if planned and rng.random() < 0.5:
                parent = ("ref", rng.choice(planned)[0])
            else:
                parent = ("source", rng.choice(readable))
            if parent not in parents:
                parents.append(parent)
        planned.append((f"d_{index:0{width}d}", parents))
    return planned


def _relation(kind: str, name: str) -> str:
    if kind == "ref":
        return f"{{{{ ref('{name}') }}}}"
    schema, table = name.split(".")
    return f"{{{{ source('sqlmesh_{schema}', '{table}') }}}}"


def _dbt_sql(parents: list[tuple[str, str]]) -> str:
    if len(parents) == 1:
        return (
            "select\n    account_id,\n    event_date,\n    amount,\n    event_count\n"
            f"from {_relation(*parents[0])}\nwhere amount > 0\n"
        )
    return (
        "select\n    a.account_id,\n    a.event_date,\n    a.amount + coalesce(b.amount, 0) as amount,\n"
        "    a.event_count + coalesce(b.event_count, 0) as event_count\n"
        f"from {_relation(*parents[0])} as a\nleft join {_relation(*parents[1])} as b\n"
        "    on b.account_id = a.account_id and b.event_date = a.event_date\n"
    )


def _sources_yml(read: set[str], stage_of: dict[str, str]) -> str:
    by_schema: dict[str, list[str]] = {}
    for name in sorted(read):
        schema, table = name.split(".")
        by_schema.setdefault(schema, []).append(table)
    sources = [
        {
            "name": f"sqlmesh_{schema}",
            "description": f"SQLMesh views of schema {schema}",
            "schema": f"{schema}{{{{ var('sqlmesh_schema_suffix', '') }}}}",
            "meta": {"engine": "sqlmesh"},
            "tables": [
                {"name": table, "meta": {"sqlmesh_model": f"{schema}.{table}", "stage": stage_of[f"{schema}.{table}"]}}
                for table in tables
            ],
        }
        for schema, tables in by_schema.items()
    ]
    return "# Cross-engine reads: the SQLMesh views the dbt models select from.\n" + yaml.safe_dump(
        {"version": 2, "sources": sources}, sort_keys=False, width=120
    )


def _check_stages(stages: dict[str, list[str]], upstream: dict[str, list[str]]) -> None:
    """A model must never sit in an earlier stage than a model it reads."""
    position = {model: index for index, models in enumerate(stages.values()) for model in models}
    for model, parents in upstream.items():
        for parent in parents:
            if position[parent] > position[model]:
                raise AssertionError(f"{model} is in an earlier stage than its upstream {parent}")


def generate_project(
    target: Path,
    sqlmesh_models: int = 200,
    dbt_models: int = 0,
    seed: int = 7,
    *,
    layers: int = 5,
    events: int = 2000,
    overwrite: bool = False,
) -> dict:
    """Write the project into `target` and return a summary (counts per stage/engine, edges).

    `sqlmesh_models` counts every SQLMesh model, the seed model included. With
    `dbt_models == 0` the dbt project holds one trivial model, `bench_placeholder`, and the
    dependency graph has no dbt stage. `target` must be empty or missing; with `overwrite`
    a previously generated project there (one with a dualengine.yml) is replaced.
    """
    target = Path(target)
    layers = min(layers, sqlmesh_models - 1)
    if layers < 2:
        raise ValueError("need sqlmesh_models >= 3 and layers >= 2 (two SQLMesh stages)")
    if dbt_models < 0 or events < 1:
        raise ValueError("dbt_models must be >= 0 and events >= 1")
    if target.exists() and any(target.iterdir()):
        if not (overwrite and (target / "dualengine.yml").is_file()):
            raise FileExistsError(
                f"{target} is not empty (pass overwrite=True / --force to replace a generated project)"
            )
        shutil.rmtree(target)

    rng = random.Random(seed)
    sqlmesh = _plan_sqlmesh(sqlmesh_models, layers, rng)
    dbt = _plan_dbt(dbt_models, sqlmesh, rng)

    _write(target / "dualengine.yml", DUALENGINE_YML)
    _write(target / "config" / "dual_engine_environments.yml", ENVIRONMENTS_YML)
    _write(target / "sqlmesh" / "config.yaml", SQLMESH_CONFIG)
    _write(target / SEED_FILE, _events_csv(events, seed))
    for model in sqlmesh:
        path = target / "sqlmesh" / "models" / model.schema / f"{model.table}.sql"
        _write(path, SEED_MODEL_SQL if model.kind == KIND_SEED else _sqlmesh_sql(model))

    split = max(1, layers // 2)
    stages: dict[str, list[str]] = {
        "stage_1_sqlmesh": [m.name for m in sqlmesh if m.layer <= split],
        "stage_2_sqlmesh": [m.name for m in sqlmesh if m.layer > split],
    }
    stage_of = {name: stage for stage, names in stages.items() for name in names}
    graph: dict = {
        "stage_1_sqlmesh": {"engine": "sqlmesh", "depends_on": ["source_data"], "models": stages["stage_1_sqlmesh"]},
        "stage_2_sqlmesh": {
            "engine": "sqlmesh",
            "depends_on": ["stage_1_sqlmesh"],
            "models": stages["stage_2_sqlmesh"],
        },
    }
    upstream = {m.name: list(m.parents) for m in sqlmesh}

    _write(target / "dbt" / "dbt_project.yml", DBT_PROJECT_YML)
    _write(target / "dbt" / "profiles.yml", DBT_PROFILES_YML)
    _write(target / "dbt" / "macros" / "generate_schema_name.sql", GENERATE_SCHEMA_NAME_SQL)
    if dbt:
        read = {name for _, parents in dbt for kind, name in parents if kind == "source"}
        _write(target / "dbt" / "models" / "sources.yml", _sources_yml(read, stage_of))
        for name, parents in dbt:
            _write(target / "dbt" / "models" / f"{name}.sql", _dbt_sql(parents))
            upstream[name] = [parent for _, parent in parents]
        stages["stage_3_dbt"] = [name for name, _ in dbt]
        graph["stage_3_dbt"] = {"engine": "dbt", "depends_on": ["stage_2_sqlmesh"], "models": stages["stage_3_dbt"]}
    else:
        _write(target / "dbt" / "models" / "bench_placeholder.sql", PLACEHOLDER_SQL)
    _check_stages(stages, upstream)

    dependency_graph = {
        "external_inputs": {"source_data": {"description": "The events extract (seed CSV)", "paths": [SEED_FILE]}},
        "dependency_graph": graph,
    }
    header = f"# Generated: {sqlmesh_models} SQLMesh models ({layers} layers), {dbt_models} dbt models, seed {seed}.\n"
    _write(
        target / "config" / "dependency_graph.yml",
        header + yaml.safe_dump(dependency_graph, sort_keys=False, width=120),
    )

    sqlmesh_edges = sum(len(m.parents) for m in sqlmesh)
    dbt_sources = sum(1 for _, parents in dbt for kind, _ in parents if kind == "source")
    dbt_refs = sum(1 for _, parents in dbt for kind, _ in parents if kind == "ref")
    return {
        "target": str(target),
        "seed": seed,
        "events_rows": events,
        "sqlmesh_models": len(sqlmesh),
        "dbt_models": len(dbt),
        "dbt_placeholder": not dbt,
        "layers": {
            RAW_SCHEMA: 1,
            **{f"{NAME}_l{i}": sum(1 for m in sqlmesh if m.layer == i) for i in range(1, layers + 1)},
        },
        "sqlmesh_kinds": dict(sorted(Counter(m.kind for m in sqlmesh).items())),
        "stages": {
            name: {"engine": spec["engine"], "models": len(spec["models"]), "depends_on": spec["depends_on"]}
            for name, spec in graph.items()
        },
        "edges": {
            "sqlmesh_to_sqlmesh": sqlmesh_edges,
            "dbt_source_reads": dbt_sources,
            "dbt_to_dbt": dbt_refs,
            "total": sqlmesh_edges + dbt_sources + dbt_refs,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", type=Path, help="folder to write (must be empty or missing)")
    parser.add_argument(
        "--sqlmesh-models", type=int, default=200, help="SQLMesh models, the seed model included (default 200)"
    )
    parser.add_argument(
        "--dbt-models", type=int, default=0, help="dbt models (default 0: one placeholder model, no dbt stage)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layers", type=int, default=5, help="SQLMesh layers after the raw seed (default 5)")
    parser.add_argument("--events", type=int, default=2000, help="rows in sqlmesh/seeds/events.csv (default 2000)")
    parser.add_argument("--force", action="store_true", help="replace a previously generated project in TARGET")
    args = parser.parse_args(argv)
    summary = generate_project(
        args.target,
        args.sqlmesh_models,
        args.dbt_models,
        args.seed,
        layers=args.layers,
        events=args.events,
        overwrite=args.force,
    )
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
