"""What one `dbt build` did to each model, read from dbt's run_results.json and manifest."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dualengine.engines.dbt.build import DbtBuildRequest, model_outcomes

MODEL_A, MODEL_B, MODEL_C = "model.shop.a", "model.shop.b", "model.shop.c"


def _manifest() -> dict:
    def test(name: str, attached: str | None, *parents: str) -> dict:
        node = {"name": name, "resource_type": "test", "depends_on": {"nodes": list(parents)}}
        return {**node, "attached_node": attached} if attached else node

    return {
        "nodes": {
            MODEL_A: {"name": "a", "resource_type": "model"},
            MODEL_B: {"name": "b", "resource_type": "model"},
            MODEL_C: {"name": "c", "resource_type": "model"},
            "test.shop.not_null_a_id": test("not_null_a_id", MODEL_A, MODEL_A),
            "test.shop.unique_b_id": test("unique_b_id", MODEL_B, MODEL_B),
            "test.shop.accepted_b_tier": test("accepted_b_tier", MODEL_B, MODEL_B),
            # a relationships test between two models: attached to the one it is declared on
            "test.shop.rel_b_a": test("rel_b_a", MODEL_B, MODEL_A, MODEL_B),
            # a singular test reading a and b: belongs to both
            "test.shop.totals_match": test("totals_match", None, MODEL_A, MODEL_B),
        }
    }


def _result(unique_id: str, status: str, message: str | None = None, **extra) -> dict:
    return {"unique_id": unique_id, "status": status, "message": message, "execution_time": 0.25, **extra}


def test_each_model_gets_its_status_rows_and_its_own_tests() -> None:
    run_results = {
        "elapsed_time": 1.5,
        "results": [
            _result(MODEL_A, "success", "OK", adapter_response={"rows_affected": 50}),
            _result("test.shop.not_null_a_id", "pass"),
            _result(MODEL_B, "success"),
            _result("test.shop.unique_b_id", "fail", "Got 2 results, configured to fail if != 0", failures=2),
            _result("test.shop.accepted_b_tier", "warn", "Got 1 result, configured to warn if != 0", failures=1),
            _result("test.shop.rel_b_a", "pass"),
            _result("test.shop.totals_match", "pass"),
            _result(MODEL_C, "skipped"),
        ],
    }
    result = model_outcomes(run_results, _manifest())
    a, b, c = (result["models"][n] for n in ("a", "b", "c"))
    assert (a["status"], a["rows_affected"], a["tests_passed"], a["tests_failed"]) == ("success", 50, 2, [])
    assert b["status"] == "tests_failed" and b["tests_passed"] == 2  # rel_b_a and the singular test
    assert b["tests_failed"] == [
        {
            "test": "unique_b_id",
            "status": "fail",
            "message": "Got 2 results, configured to fail if != 0",
            "failures": 2,
        }
    ]
    assert [t["test"] for t in b["tests_warned"]] == ["accepted_b_tier"]  # a warning does not fail b
    assert c["status"] == "skipped"
    assert result["failed"] == ["b", "c"] and result["elapsed_s"] == 1.5


def test_a_model_error_carries_dbt_message() -> None:
    run_results = {"results": [_result(MODEL_A, "error", 'Binder Error: column "nope" not found')]}
    outcome = model_outcomes(run_results, _manifest())["models"]["a"]
    assert outcome["status"] == "error" and "Binder Error" in outcome["message"]


def test_arguments_are_a_list_with_nothing_spliced(tmp_path: Path) -> None:
    request = DbtBuildRequest(
        project_dir=tmp_path / "dbt",
        profiles_dir=tmp_path / "profiles",
        target="dev",
        select=("stg_customers", "customer_value"),
        work_dir=tmp_path / "work",
        vars={"sqlmesh_schema_suffix": "__dev"},
    )
    args = request.args()
    assert args[0] == "build"
    assert args[args.index("--select") + 1 : args.index("--select") + 3] == ["stg_customers", "customer_value"]
    assert args[args.index("--vars") + 1] == '{"sqlmesh_schema_suffix": "__dev"}'
    assert args[args.index("--target-path") + 1] == str(tmp_path / "work" / "target")  # not in the project folder
    assert args[args.index("--indirect-selection") + 1] == "buildable"


def test_partial_parse_state_is_kept_per_project_target_and_vars(tmp_path: Path, monkeypatch) -> None:
    from dataclasses import replace

    from airflow_provider_dualengine.engines.dbt.build import partial_parse_cache

    monkeypatch.setenv("DUALENGINE_CACHE_DIR", str(tmp_path / "cache"))
    dev = DbtBuildRequest(tmp_path / "dbt", tmp_path / "p", "dev", ("a",), tmp_path / "w1", {"suffix": "__dev"})
    other_stage = replace(dev, select=("b", "c"), work_dir=tmp_path / "w2")  # another stage, same parse
    prod = replace(dev, target="prod", vars={"suffix": ""})
    assert partial_parse_cache(dev) == partial_parse_cache(other_stage)
    assert partial_parse_cache(dev) != partial_parse_cache(prod)
    assert partial_parse_cache(dev).parent == tmp_path / "cache" / "dbt-partial-parse"
