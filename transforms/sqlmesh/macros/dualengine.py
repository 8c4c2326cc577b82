"""Macros for reading dbt models from SQLMesh (airflow-provider-dualengine)."""

from sqlmesh import macro

from airflow_provider_dualengine.engines.sqlmesh.dbt_tables import dbt_table


@macro()
def dbt_model(evaluator, name):
    """`FROM @dbt_model(customer_value)`: the dbt model's table in this environment
    (analytics_dev in development, analytics in production)."""
    return dbt_table(name, prod_schema="analytics")
