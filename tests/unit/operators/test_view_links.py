"""Extra links from our tasks to the dual-engine view: a path on the same Airflow host,
under the proxy prefix of `[api] base_url` when there is one."""

from __future__ import annotations

import pytest

from airflow_provider_dualengine.links.view import ContractLink, ModelLineageLink
from airflow_provider_dualengine.operators.contract_check import ContractCheckOperator
from airflow_provider_dualengine.operators.dbt_model import DbtModelOperator
from airflow_provider_dualengine.operators.sqlmesh_model import SQLMeshModelOperator

DBT_ARGS = {
    "project_dir": "/p",
    "conn_id": "w",
    "warehouse_type": "duckdb",
    "profile_name": "p",
    "target_name": "dev",
    "schema": "s",
}


@pytest.mark.parametrize(
    ("base_url", "prefix"), [("", ""), ("http://airflow.example:8080", ""), ("https://x.example/airflow/", "/airflow")]
)
def test_model_and_contract_links(monkeypatch: pytest.MonkeyPatch, base_url: str, prefix: str) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    sqlmesh = SQLMeshModelOperator(
        task_id="t1", model="staging.customer_enhanced", executor_task_id="x", environment="dev"
    )
    dbt = DbtModelOperator(task_id="t2", model="customer_value", build_task_id="b", relation="a.b", **DBT_ARGS)
    contract = ContractCheckOperator(
        task_id="t3", contract={"name": "staging.customer_enhanced"}, schema="s", table="t"
    )
    assert (
        ModelLineageLink().get_link(sqlmesh, ti_key=None)
        == f"{prefix}/dualengine/lineage?model=sqlmesh%3Astaging.customer_enhanced"
    )
    assert ModelLineageLink().get_link(dbt, ti_key=None) == f"{prefix}/dualengine/lineage?model=dbt%3Acustomer_value"
    assert (
        ContractLink().get_link(contract, ti_key=None)
        == f"{prefix}/dualengine/contracts?contract=staging.customer_enhanced#c-staging.customer_enhanced"
    )
    assert [type(link) for link in SQLMeshModelOperator.operator_extra_links] == [ModelLineageLink]
    assert [type(link) for link in ContractCheckOperator.operator_extra_links] == [ContractLink]
