"""SQLMesh model tasks name OpenLineage datasets exactly as Cosmos/openlineage-dbt names dbt's.

The dbt side is computed with the libraries Cosmos runs in production, not hard-coded:
Cosmos' profile mapping turns the Airflow connection into a dbt profile, dbt's adapter
credentials give the database its manifest records, and openlineage-dbt's artifact
processor names the relation.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from airflow.sdk import BaseHook

from airflow_provider_dualengine.engines.sqlmesh.openlineage import dataset_name, dataset_namespace, model_lineage
from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator

DUCKDB_FILE = "/data/warehouse/shop.duckdb"
PG_PASSWORD = "Sup3r-s3cret-pw"


@pytest.fixture
def duckdb_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_OL_DUCKDB", json.dumps({"conn_type": "duckdb", "host": DUCKDB_FILE}))
    return "ol_duckdb"


@pytest.fixture
def postgres_conn(monkeypatch: pytest.MonkeyPatch) -> str:
    conn = {
        "conn_type": "postgres",
        "host": "db.example",
        "port": 5432,
        "login": "u",
        "password": PG_PASSWORD,
        "schema": "shop",
    }
    monkeypatch.setenv("AIRFLOW_CONN_OL_POSTGRES", json.dumps(conn))
    return "ol_postgres"


def names(datasets) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_duckdb_names(duckdb_conn: str) -> None:
    lineage = model_lineage(
        BaseHook.get_connection(duckdb_conn),
        "staging.customer_enhanced",
        view_schema_suffix="__dev",
        sqlmesh_inputs=["staging.stg_customers", '"shop"."staging"."stg_orders"'],
        external_inputs=["raw.customers", "analytics_dev.customer_value", "other.ext.events"],
    )
    ns = "duckdb:///data/warehouse/shop.duckdb"
    assert names(lineage.outputs) == [(ns, "shop.staging__dev.customer_enhanced")]
    assert names(lineage.inputs) == [
        (ns, "shop.staging__dev.stg_customers"),
        (ns, "shop.staging__dev.stg_orders"),
        (ns, "shop.raw.customers"),
        (ns, "shop.analytics_dev.customer_value"),
        (ns, "other.ext.events"),
    ]


def test_postgres_names(postgres_conn: str) -> None:
    lineage = model_lineage(
        BaseHook.get_connection(postgres_conn),
        "staging.customer_enhanced",
        sqlmesh_inputs=["staging.stg_orders"],
        external_inputs=["raw.customers"],
    )
    ns = "postgres://db.example:5432"
    assert names(lineage.outputs) == [(ns, "shop.staging.customer_enhanced")]
    assert names(lineage.inputs) == [(ns, "shop.staging.stg_orders"), (ns, "shop.raw.customers")]


def test_postgres_port_defaults_to_5432(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_OL_PG_NOPORT", json.dumps({"conn_type": "postgres", "host": "db.example", "schema": "shop"})
    )
    assert dataset_namespace(BaseHook.get_connection("ol_pg_noport")) == "postgres://db.example:5432"


def test_duckdb_database_is_the_catalog_duckdb_derives_from_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    for path in ("/x/my.shop.duckdb", "rel/.hidden.db", ":memory:"):
        monkeypatch.setenv("AIRFLOW_CONN_OL_ODD", json.dumps({"conn_type": "duckdb", "host": path}))
        expected = DuckDBCredentials.path_derived_database_name(path)
        assert dataset_name(BaseHook.get_connection("ol_odd"), "s.t") == f"{expected}.s.t"


def test_columns_become_a_schema_facet(duckdb_conn: str) -> None:
    lineage = model_lineage(
        BaseHook.get_connection(duckdb_conn),
        "staging.customer_enhanced",
        columns={"customer_id": "INT", "name": "TEXT"},
    )
    [output] = lineage.outputs
    assert [(f.name, f.type) for f in output.facets["schema"].fields] == [("customer_id", "INT"), ("name", "TEXT")]
    assert model_lineage(BaseHook.get_connection(duckdb_conn), "s.t").outputs[0].facets == {}


# --- the dbt side, as Cosmos produces it -------------------------------------------------


def dbt_dataset(conn_id: str, kind: str, schema: str, table: str, node_type: str):
    """The dataset openlineage-dbt emits (under Cosmos) for a dbt node at `schema.table`."""
    from openlineage.common.provider.dbt.processor import DbtArtifactProcessor, ModelNode

    if kind == "postgres":
        from cosmos.profiles import PostgresUserPasswordProfileMapping as Mapping
        from dbt.adapters.postgres import PostgresCredentials as Credentials
    else:
        from cosmos.profiles import DuckDBUserPasswordProfileMapping as Mapping
        from dbt.adapters.duckdb.credentials import DuckDBCredentials as Credentials

    profile = Mapping(conn_id=conn_id, profile_args={"schema": schema}).profile
    database = Credentials.from_dict({k: v for k, v in profile.items() if k != "type"}).database

    class Processor(DbtArtifactProcessor):
        def parse(self):  # the naming code only; no artifacts
            raise NotImplementedError

        def get_dbt_metadata(self):
            raise NotImplementedError

        def dbt_run_run_facet(self):
            raise NotImplementedError

    processor = Processor(producer="test", job_namespace="test")
    processor.extract_adapter_type(profile)
    processor.extract_dataset_namespace(profile)
    key = "name" if node_type == "source" else "alias"
    node = ModelNode(type=node_type, metadata_node={"database": database, "schema": schema, key: table})
    if node_type == "source":
        return processor.node_to_dataset(node)
    return processor.node_to_output_dataset(node)


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_sqlmesh_output_equals_the_dbt_dataset_for_the_same_relation(kind: str, request: pytest.FixtureRequest) -> None:
    conn_id = request.getfixturevalue(f"{kind}_conn")
    lineage = model_lineage(
        BaseHook.get_connection(conn_id),
        "staging.customer_enhanced",
        view_schema_suffix="__dev",
        external_inputs=["analytics_dev.customer_value"],
    )
    [output] = lineage.outputs
    # dbt reads the SQLMesh view as a source...
    source = dbt_dataset(conn_id, kind, "staging__dev", "customer_enhanced", "source")
    assert (output.namespace, output.name) == (source.namespace, source.name)
    # ...and SQLMesh reads a dbt model's table, which dbt emits as its output.
    [dbt_input] = lineage.inputs
    model = dbt_dataset(conn_id, kind, "analytics_dev", "customer_value", "model")
    assert (dbt_input.namespace, dbt_input.name) == (model.namespace, model.name)


def test_password_never_in_namespaces(postgres_conn: str) -> None:
    from openlineage.client.serde import Serde

    lineage = model_lineage(
        BaseHook.get_connection(postgres_conn),
        "staging.customer_enhanced",
        sqlmesh_inputs=["staging.stg_orders"],
        external_inputs=["raw.customers"],
    )
    for dataset in lineage.inputs + lineage.outputs:
        assert PG_PASSWORD not in dataset.namespace and "u:" not in dataset.namespace and "@" not in dataset.namespace
        assert PG_PASSWORD not in Serde.to_json(dataset)


# --- the operator -------------------------------------------------------------------------


def test_operator_reports_inputs_and_output(postgres_conn: str) -> None:
    op = SQLMeshModelOperator(
        task_id="staging__customer_enhanced",
        model="staging.customer_enhanced",
        executor_task_id="run_stage",
        environment="dev",
        view_schema_suffix="__dev",
        conn_id=postgres_conn,
        lineage_inputs=["staging.stg_orders"],
        lineage_external_inputs=["analytics_dev.customer_value"],
        columns={"customer_id": "INT"},
    )
    lineage = op.get_openlineage_facets_on_complete(task_instance=None)
    ns = "postgres://db.example:5432"
    assert names(lineage.outputs) == [(ns, "shop.staging__dev.customer_enhanced")]
    assert names(lineage.inputs) == [(ns, "shop.staging__dev.stg_orders"), (ns, "shop.analytics_dev.customer_value")]
    assert [f.name for f in lineage.outputs[0].facets["schema"].fields] == ["customer_id"]


def test_operator_without_connection_reports_nothing() -> None:
    op = SQLMeshModelOperator(task_id="t", model="staging.x", executor_task_id="run_stage", environment="prod")
    lineage = op.get_openlineage_facets_on_complete(task_instance=None)
    assert lineage.inputs == [] and lineage.outputs == []


def test_operator_init_needs_neither_the_provider_nor_the_connection() -> None:
    """Hundreds of these are built at DAG parse: no OpenLineage import, no connection lookup."""
    code = (
        "import sys\n"
        "# importing what lineage needs now fails (the provider package itself stays: Airflow discovers it)\n"
        "for name in ('airflow.providers.openlineage.extractors', 'airflow.providers.common.compat.openlineage.facet'):\n"
        "    sys.modules[name] = None\n"
        "from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator\n"
        "import airflow_provider_dualengine.engines.sqlmesh.openlineage\n"
        "SQLMeshModelOperator(task_id='t', model='s.t', executor_task_id='e', environment='prod', conn_id='no_such_connection',\n"
        "                     lineage_inputs=['s.u'], lineage_external_inputs=['raw.v'], columns={'a': 'INT'})\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("ok")
