"""A failing dbt model in the example DAG: one `dbt build` for the stage, and the failure
lands on that model's own task; its stage-mate is built and checked, downstream never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.warehouses import Warehouse


@pytest.mark.e2e
@pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)
def test_a_failing_dbt_model_fails_its_own_task_only(shop: Path, warehouse: Warehouse, scenario_dag) -> None:
    from airflow_provider_dualengine.compiled import compile_project
    from airflow_provider_dualengine.config import load_project

    mart = next(shop.glob("dbt/models/**/customer_order_summary.sql"))
    mart.write_text(mart.read_text().replace("count(", "count_no_such_function(", 1))
    compile_project(load_project(shop))

    run = scenario_dag(
        "dbt_failure",
        f"from airflow_provider_dualengine import build_dag\ndag = build_dag({str(shop)!r}, dag_id='dbt_failure')\n",
    )
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "failed"
    assert sorted(t for t, s in states.items() if s == "failed") == ["stage_3_dbt.dbt.customer_order_summary"]
    # the stage's single dbt build ran; the model beside the broken one was built and its contract checked
    assert states["stage_3_dbt.dbt.build_stage"] == "success"
    assert states["stage_3_dbt.dbt.customer_value"] == "success"
    assert states["stage_3_dbt.contract__customer_value"] == "success"
    # nothing after the stage ran
    later = {t: s for t, s in states.items() if t.startswith("stage_4") or t == "stage_3_dbt.done"}
    assert later and set(later.values()) == {"upstream_failed"}
    build = run.get_task_instance("stage_3_dbt.dbt.build_stage").xcom_pull(task_ids="stage_3_dbt.dbt.build_stage")
    assert build["failed"] == ["customer_order_summary"]
    assert "count_no_such_function" in build["models"]["customer_order_summary"]["message"]
    assert warehouse.scalar("select count(*) from analytics_dev.customer_value") == 50
