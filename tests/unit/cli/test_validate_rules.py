"""What `dualengine validate` must reject before anything runs (kinds 5, 6, 7).

Kind 5: everything that would later break DAG import or silently turn checks off.
Kind 6: dbt sources over SQLMesh models that would read the wrong environment.
Kind 7: the deploy DAG's rules, reported by `validate -e production` before a deploy.

Edits that change no model are followed by `refingerprint` (what a compile of the same
sources records); edits whose engine output matters run `validate --compile`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.cli._corpus import (
    assert_clean_failure,
    assert_readable_import_error,
    dag_import_error,
    refingerprint,
    replace,
    run_cli,
)

SETTINGS = "dualengine.yml"
SOURCES = "dbt/models/sources.yml"
CONTRACT = "shared/schemas/customer_value.yml"
EMPTY_PATH_FIX = "fix: give the folder or file relative to dualengine.yml"


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda p: replace(p / rel, old, new)


def _append(rel: str, text: str) -> Callable[[Path], None]:
    return lambda p: (p / rel).write_text((p / rel).read_text() + text)


# name -> (mutation, argv, expected fragments, also a DAG import error?)
CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...], tuple[str, ...], bool]] = {
    # --- monitoring.yml: an alert that could never fire ---------------------------------------
    "alert rule with a misspelt metric": (
        _edit(
            "config/monitoring.yml",
            "alerts: []",
            "alerts:\n  - {name: lag, condition: 'dependancy_lag > 1 hour', severity: high, actions: [page]}\n"
            "notifiers:\n  page: {class: airflow_provider_dualengine.notifications.webhook.WebhookNotifier, args: {url: 'http://127.0.0.1:9'}}",
        ),
        ("validate", "{P}"),
        (
            "{P}/config/monitoring.yml: alerts[0].condition: unknown metric 'dependancy_lag' in 'dependancy_lag > 1 hour'",
            "fix: see docs/monitoring.md, 'Alert conditions'",
        ),
        True,
    ),
    # --- contracts (validate did not load them before) -----------------------------------
    "contract column the producer lacks": (
        _edit(
            CONTRACT,
            "      - name: value_band\n",
            "      - name: value_score\n        data_type: double\n      - name: value_band\n",
        ),
        ("validate", "{P}"),
        (
            "{P}/shared/schemas/customer_value.yml: models[0].columns[2]: column 'value_score' is promised but dbt model customer_value does not produce it (it has: customer_id, customer_tier, lifetime_value, value_band)",
            "fix: add the column to the model",
        ),
        False,
    ),
    "contract type the model does not produce": (
        _edit("shared/schemas/customer_lifetime.yml", "data_type: bigint", "data_type: text"),
        ("validate", "{P}"),
        (
            "{P}/shared/schemas/customer_lifetime.yml: models[0].columns[1].data_type: column 'completed_orders' is promised as text but intermediate.customer_lifetime produces BIGINT (different)",
            "fix: restore the type in the model",
        ),
        False,
    ),
    "contract unknown constraint": (
        _edit(CONTRACT, "          - type: unique", "          - type: uniq"),
        ("validate", "{P}"),
        (
            "{P}/shared/schemas/customer_value.yml: models[0].columns[0].constraints[1]: Input tag 'uniq' found using 'type' does not match any of the expected tags",
            "fix: constraint types are not_null, unique, accepted_values",
        ),
        True,
    ),
    "contract producer of the wrong engine": (
        _edit(CONTRACT, "producer: dbt", "producer: sqlmesh"),
        ("validate", "{P}"),
        (
            "{P}/shared/schemas/customer_value.yml: models[0].producer: producer is 'sqlmesh', but customer_value is a model of another engine (dbt:customer_value)",
        ),
        True,
    ),
    "contracts folder missing": (
        _append(SETTINGS, "contracts: shared/contracts\n"),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: contracts: contracts folder {P}/shared/contracts does not exist, so no contract would be checked",
            "fix: create it, fix the path",
        ),
        True,
    ),
    "contracts setting names a file": (
        _append(SETTINGS, "contracts: shared/schemas/customer_value.yml\n"),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: contracts: {P}/shared/schemas/customer_value.yml is a file, not a folder of contract files",
        ),
        False,
    ),
    "dbt profile not the dbt project's": (
        _edit(SETTINGS, "  profile: shop", "  profile: shop_analytics"),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: dbt.profile: 'shop_analytics' is not the profile {P}/dbt/dbt_project.yml uses ('shop'), so dbt would find no profile",
            "fix: set dbt.profile: shop",
        ),
        True,
    ),
    # --- the dbt manifest Cosmos renders from ----------------------------------------------
    "manifest setting names no file": (
        _edit(SETTINGS, "manifest: target/manifest.json", "manifest: target/manifest_v2.json"),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: compiled: compiled artifact {P}/target/dualengine.json is stale: it was compiled with the dbt manifest {P}/dbt/target/manifest.json, but dualengine.yml's dbt.manifest now means {P}/dbt/target/manifest_v2.json",
        ),
        True,
    ),
    "manifest deleted": (
        lambda p: (p / "dbt/target/manifest.json").unlink(),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: dbt.manifest: dbt manifest not found at {P}/dbt/target/manifest.json",
            "fix: run `dualengine compile {P}`",
        ),
        True,
    ),
    # --- gateways ---------------------------------------------------------------------------
    "gateway unknown in dualengine.yml": (
        _edit(SETTINGS, "  gateway: duckdb", "  gateway: duck"),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: sqlmesh.gateway: the SQLMesh project has no gateway 'duck'",
            "fix: use one of the gateways in config.yaml: duckdb, postgres",
        ),
        False,
    ),
    "gateway unknown in another environment": (
        lambda p: (p / "config/dual_engine_environments.yml").write_text(
            (p / "config/dual_engine_environments.yml")
            .read_text()
            .replace("gateway: duckdb", "gateway: pg", 2)
            .replace("gateway: pg", "gateway: duckdb", 1)
        ),
        ("validate", "{P}", "-e", "development"),
        (
            "{P}/config/dual_engine_environments.yml: environments.production.sqlmesh.gateway: the SQLMesh project has no gateway 'pg'",
        ),
        False,
    ),
    "artifact from an older provider": (
        lambda p: (p / "target/dualengine.json").write_text(
            json.dumps(
                {
                    **(a := json.loads((p / "target/dualengine.json").read_text())),
                    "sqlmesh": {k: v for k, v in a["sqlmesh"].items() if k != "gateways"},
                }
            )
        ),
        ("validate", "{P}"),
        (
            "{P}/target/dualengine.json: sqlmesh.gateways: the compiled artifact predates gateway checks (written by an older provider)",
            "or `dualengine validate --compile`",
        ),
        False,
    ),
    # --- empty paths that would silently mean the project folder ------------------------
    "empty sqlmesh path": (
        _edit(SETTINGS, "  path: sqlmesh", '  path: ""'),
        ("validate", "{P}"),
        (
            "{P}/dualengine.yml: sqlmesh.path: the path is empty, which would mean the project folder itself",
            EMPTY_PATH_FIX,
        ),
        True,
    ),
    "empty dbt path": (
        _edit(SETTINGS, "  path: dbt", "  path: ''"),
        ("compile", "{P}"),
        ("{P}/dualengine.yml: dbt.path: the path is empty, which would mean the project folder itself", EMPTY_PATH_FIX),
        False,
    ),
    "blank manifest path": (
        _edit(SETTINGS, "manifest: target/manifest.json", 'manifest: "  "'),
        ("validate", "{P}"),
        ("{P}/dualengine.yml: dbt.manifest: the path is empty",),
        False,
    ),
    "empty dependency_graph path": (
        _edit(SETTINGS, "dependency_graph: config/dependency_graph.yml", 'dependency_graph: ""'),
        ("lineage", "{P}"),
        ("{P}/dualengine.yml: dependency_graph: the path is empty",),
        True,
    ),
    "empty contracts path": (
        _append(SETTINGS, 'contracts: ""\n'),
        ("contracts", "check", "{P}"),
        ("{P}/dualengine.yml: contracts: the path is empty", EMPTY_PATH_FIX),
        False,
    ),
    # --- kind 6: dbt sources over SQLMesh models ----------------------------------------------
    "source schema hard-coded": (
        lambda p: (
            replace(p / SOURCES, "schema: \"staging{{ var('sqlmesh_schema_suffix', '') }}\"", "schema: staging"),
            refingerprint(p),
        ),
        ("validate", "{P}"),
        (
            "{P}/dbt/models/sources.yml: sources[0].schema: source 'sqlmesh_staging' (reads SQLMesh models staging.customer_enhanced, staging.stg_orders): its schema 'staging' is fixed, so every environment would read SQLMesh's prod views",
            "fix: write schema: \"staging{{{{ var('sqlmesh_schema_suffix', '') }}}}\"",
        ),
        False,
    ),
    "source suffix before the schema": (
        lambda p: (
            replace(
                p / SOURCES,
                "schema: \"staging{{ var('sqlmesh_schema_suffix', '') }}\"",
                "schema: \"{{ var('sqlmesh_schema_suffix', '') }}staging\"",
            ),
            refingerprint(p),
        ),
        ("validate", "{P}"),
        (
            "{P}/dbt/models/sources.yml: sources[0].schema: source 'sqlmesh_staging' (reads SQLMesh models staging.customer_enhanced, staging.stg_orders): its schema \"{{{{ var('sqlmesh_schema_suffix', '') }}}}staging\" does not end with the dbt var 'sqlmesh_schema_suffix' right after the schema name",
        ),
        False,
    ),
    "setting renamed, sources not": (
        lambda p: (
            replace(
                p / SETTINGS,
                "  manifest: target/manifest.json\n",
                "  manifest: target/manifest.json\n  sqlmesh_suffix_var: sqlmesh_env_suffix\n",
            ),
            refingerprint(p, sqlmesh_suffix_var="sqlmesh_env_suffix"),
        ),
        ("validate", "{P}"),
        (
            "{P}/dbt/models/sources.yml: sources[0].schema: source 'sqlmesh_staging' (reads SQLMesh models staging.customer_enhanced, staging.stg_orders): its schema \"staging{{{{ var('sqlmesh_schema_suffix', '') }}}}\" takes the suffix from dbt var 'sqlmesh_schema_suffix', but the provider passes the SQLMesh environment's suffix in 'sqlmesh_env_suffix'",
        ),
        False,
    ),
    "setting renamed, artifact not recompiled": (
        _edit(
            SETTINGS,
            "  manifest: target/manifest.json\n",
            "  manifest: target/manifest.json\n  sqlmesh_suffix_var: sqlmesh_env_suffix\n",
        ),
        ("validate", "{P}"),
        (
            "compiled artifact {P}/target/dualengine.json is stale: it was compiled with dbt.sqlmesh_suffix_var 'sqlmesh_schema_suffix', dualengine.yml now says 'sqlmesh_env_suffix'",
        ),
        True,
    ),
    "suffix var not an identifier": (
        _edit(
            SETTINGS,
            "  manifest: target/manifest.json\n",
            '  manifest: target/manifest.json\n  sqlmesh_suffix_var: "suffix; drop"\n',
        ),
        ("validate", "{P}"),
        ("{P}/dualengine.yml: dbt.sqlmesh_suffix_var: String should match pattern",),
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_rejects(name: str, project_copy: Path, tmp_path: Path, capsys) -> None:
    mutate, argv, expected, dag = CASES[name]
    mutate(project_copy)
    P = str(project_copy)
    code, out, err = run_cli(capsys, *(a.format(P=P) for a in argv))
    assert_clean_failure(code, err, *(e.format(P=P) for e in expected))
    assert "OK:" not in out
    if dag:
        assert_readable_import_error(
            dag_import_error(project_copy, tmp_path / "dags"), *(e.format(P=P) for e in expected)
        )


@pytest.fixture
def sqlmesh_as_compiled(example_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQLMesh description compile would produce, from the example's artifact (the
    SQLMesh load is not what these cases test; dbt parse runs for real)."""
    import airflow_provider_dualengine.engines.sqlmesh.compile as sqlmesh_compile

    described = json.loads((example_project / "target" / "dualengine.json").read_text())["sqlmesh"]
    monkeypatch.setattr(
        sqlmesh_compile, "describe_sqlmesh_project", lambda path, gateway=None: {**described, "project_path": str(path)}
    )


def test_source_in_a_sqlmesh_schema_naming_no_model(project_copy: Path, sqlmesh_as_compiled: None, capsys) -> None:
    replace(
        project_copy / SOURCES,
        "      - name: stg_orders\n",
        "      - name: stg_order_lines\n      - name: stg_orders\n",
    )
    code, out, err = run_cli(capsys, "validate", project_copy, "--compile")
    assert f"compiled {project_copy}/target/dualengine.json" in out
    assert_clean_failure(
        code,
        err,
        f"{project_copy}/dbt/models/sources.yml: sources[0].tables[1]: source('sqlmesh_staging', 'stg_order_lines') reads staging.stg_order_lines in SQLMesh schema 'staging', but the SQLMesh project has no model staging.stg_order_lines",
        "fix: did you mean staging.stg_orders",
    )


def test_source_with_its_own_suffix_var_is_rejected_after_compiling(project_copy: Path, capsys) -> None:
    """The reported project: its own var name passed compile and contracts check (dbt
    renders the default ''), then read prod views in every environment. `validate
    --compile` (the whole compile: SQLMesh and dbt) now refuses it."""
    replace(project_copy / SOURCES, "var('sqlmesh_schema_suffix', '')", "var('sqlmesh_env_suffix', '')")
    code, out, err = run_cli(capsys, "validate", project_copy, "--compile")
    assert f"compiled {project_copy}/target/dualengine.json" in out
    assert_clean_failure(
        code,
        err,
        f"{project_copy}/dbt/models/sources.yml: sources[0].schema: source 'sqlmesh_staging' (reads SQLMesh models staging.customer_enhanced, staging.stg_orders): its schema \"staging{{{{ var('sqlmesh_env_suffix', '') }}}}\" takes the suffix from dbt var 'sqlmesh_env_suffix', but the provider passes the SQLMesh environment's suffix in 'sqlmesh_schema_suffix', so every environment would read SQLMesh's prod views".replace(
            "{{{{", "{{"
        ).replace("}}}}", "}}"),
        "fix: write schema: \"staging{{ var('sqlmesh_schema_suffix', '') }}\", or set `dbt: {sqlmesh_suffix_var: sqlmesh_env_suffix}` in dualengine.yml",
    )


def _rename_suffix_var(project: Path) -> None:
    replace(
        project / SETTINGS,
        "  manifest: target/manifest.json\n",
        "  manifest: target/manifest.json\n  sqlmesh_suffix_var: sqlmesh_env_suffix\n",
    )
    replace(project / SOURCES, "var('sqlmesh_schema_suffix', '')", "var('sqlmesh_env_suffix', '')")
    refingerprint(project, sqlmesh_suffix_var="sqlmesh_env_suffix")


def test_a_renamed_suffix_var_reaches_cosmos_and_the_dbt_plugin(project_copy: Path, tmp_path: Path, capsys) -> None:
    """`dbt.sqlmesh_suffix_var` names the var end to end: validate accepts sources using it,
    the factory passes it to Cosmos, and the dbt plugin reads it for ref() to SQLMesh."""
    from airflow_provider_dualengine import build_dag
    from tests.integration.test_cross_engine_ref import _compile_customer_value

    _rename_suffix_var(project_copy)
    code, out, err = run_cli(capsys, "validate", project_copy)
    assert code == 0, err
    dag = build_dag(project_copy)
    assert dag.get_task("stage_2_mixed.dbt.build_stage").dbt_vars == {"sqlmesh_env_suffix": "__dev"}
    sql = _compile_customer_value(project_copy, tmp_path / "dbt", {"sqlmesh_env_suffix": "__dev"})
    assert '"intermediate__dev"."customer_lifetime"' in sql


# --- kind 7: the deploy DAG's rules, before deploying ------------------------------------------


def _staging_as_views(project: Path) -> None:
    dbt_project = project / "dbt" / "dbt_project.yml"
    dbt_project.write_text(
        dbt_project.read_text().replace(
            "      +materialized: table\n    marts:", "      +materialized: view\n    marts:", 1
        )
    )
    artifact_path = project / "target" / "dualengine.json"
    artifact = json.loads(artifact_path.read_text())
    for name in ("stg_customers", "stg_completed_orders"):
        artifact["dbt"]["models"][name]["kind"] = "view"
    artifact_path.write_text(json.dumps(artifact))
    refingerprint(project)


def test_dbt_view_over_sqlmesh_is_rejected_for_the_prod_environment(project_copy: Path, capsys) -> None:
    _staging_as_views(project_copy)
    code, _, err = run_cli(capsys, "validate", project_copy, "-e", "production")
    assert_clean_failure(
        code,
        err,
        f"{project_copy}/dbt/models/staging/stg_customers.sql: dbt model stg_customers: is a view reading SQLMesh model(s) staging.customer_enhanced; in a blue-green deployment it would keep reading the green SQLMesh environment",
        f"{project_copy}/dbt/models/staging/stg_completed_orders.sql: dbt model stg_completed_orders: is a view reading SQLMesh model(s) staging.stg_orders",
        "fix: materialize it as a table (or incremental)",
    )
    code, out, err = run_cli(capsys, "validate", project_copy, "-e", "development")  # no deployment targets dev
    assert code == 0 and out.startswith("OK:"), err


def _undocument(project: Path, model: str) -> None:
    replace(project / "dbt/models/staging/schema.yml", "    description: Completed orders only.\n", "")
    manifest_path = project / "dbt" / "target" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["nodes"][f"model.shop.{model}"]["description"] = ""
    manifest_path.write_text(json.dumps(manifest))
    refingerprint(project)


def test_undocumented_dbt_model_is_rejected_for_the_prod_environment(project_copy: Path, capsys) -> None:
    _undocument(project_copy, "stg_completed_orders")
    code, _, err = run_cli(capsys, "validate", project_copy, "-e", "production")
    assert_clean_failure(
        code,
        err,
        f"{project_copy}/dbt/models/staging/stg_completed_orders.sql: model stg_completed_orders: dbt model 'stg_completed_orders' has no description; the deploy DAG of 'production' refuses undocumented models in its validation stage",
        "build the deploy DAG with require_dbt_docs=False and validate with --no-dbt-docs",
    )
    code, out, err = run_cli(capsys, "validate", project_copy, "-e", "production", "--no-dbt-docs")
    assert code == 0 and out.startswith("OK:"), err


def test_deploy_check_names_the_factory_parameter(project_copy: Path) -> None:
    """The operator's advice names a parameter that exists: build_deploy_dag's require_dbt_docs."""
    import inspect

    from airflow_provider_dualengine import build_deploy_dag
    from airflow_provider_dualengine.operators.project_checks import DbtProjectCheckOperator, ProjectCheckFailed

    _undocument(project_copy, "stg_completed_orders")
    with pytest.raises(ProjectCheckFailed) as failure:
        DbtProjectCheckOperator(task_id="dbt_manifest_and_docs", project_dir=str(project_copy)).execute({})
    assert "dbt models without a description: stg_completed_orders" in str(failure.value)
    assert "build_deploy_dag(..., require_dbt_docs=False)" in str(failure.value)
    assert "require_dbt_docs" in inspect.signature(build_deploy_dag).parameters
