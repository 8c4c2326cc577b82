"""Warehouse session settings in each engine's own knob: DuckDB `SET` entries, libpq options."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_dualengine.engines.session_settings import (
    SessionSettingError,
    duckdb_settings,
    libpq_escape,
    libpq_options,
    pgoptions_environ,
    read_values,
    readback_sql,
    report_line,
    reported_names,
    session_report,
)


def test_postgres_settings_become_one_libpq_options_value() -> None:
    assert libpq_options({"work_mem": "64MB", "statement_timeout": "30s"}) == (
        "-c work_mem=64MB -c statement_timeout=30s"
    )
    assert libpq_options({}) == "" and libpq_options(None) == ""
    assert libpq_options({"statement_timeout": 45000, "enable_seqscan": False}) == (
        "-c statement_timeout=45000 -c enable_seqscan=false"
    )


def test_libpq_escapes_spaces_and_backslashes_inside_a_value() -> None:
    # libpq splits `options` on whitespace; a backslash makes the next character literal
    assert libpq_escape("1 GB") == r"1\ GB"
    assert libpq_escape("a\\b") == r"a\\b"
    assert libpq_escape("a\tb") == "a\\\tb"
    assert libpq_options({"search_path": "my schema"}) == r"-c search_path=my\ schema"


def test_pgoptions_keeps_what_the_process_had_before_ours() -> None:
    assert pgoptions_environ({"work_mem": "7MB"}) == {"PGOPTIONS": "-c work_mem=7MB"}
    assert pgoptions_environ({"work_mem": "7MB"}, "-c geqo=off ") == {"PGOPTIONS": "-c geqo=off -c work_mem=7MB"}
    assert pgoptions_environ({}, "-c geqo=off") == {}  # nothing configured: the environment is left alone


def test_duckdb_settings_are_the_same_pairs_for_both_engines() -> None:
    assert duckdb_settings({"threads": 1, "memory_limit": "512MB"}) == {"threads": 1, "memory_limit": "512MB"}
    assert duckdb_settings(None) == {}


@pytest.mark.parametrize(
    "session",
    [
        {"memory_limit": "1GB'; DROP TABLE x; --"},  # SQLMesh writes SET name = '<value>' unescaped
        {"memory_limit": "1GB\\"},
        {"memory_limit": "1GB\n"},
        {"threads; DROP TABLE x": 1},
        {"threads": True},
        {"threads": [1]},
    ],
)
def test_duckdb_refuses_what_would_not_stay_a_value(session: dict) -> None:
    with pytest.raises(SessionSettingError):
        duckdb_settings(session)


@pytest.mark.parametrize("session", [{"work mem": "1MB"}, {"work_mem=1MB -c x": "1"}, {"work_mem": ""}])
def test_postgres_refuses_bad_names_and_empty_values(session: dict) -> None:
    with pytest.raises(SessionSettingError):
        libpq_options(session)


def test_read_back_asks_for_the_standard_settings_and_the_configured_ones() -> None:
    assert reported_names("duckdb", {}) == ["threads", "memory_limit"]
    assert reported_names("postgres", {"work_mem": "7MB", "lock_timeout": "5s"}) == [
        "work_mem",
        "statement_timeout",
        "lock_timeout",
    ]
    assert readback_sql(["work_mem", "statement_timeout"]) == (
        "SELECT current_setting('work_mem'), current_setting('statement_timeout')"
    )
    assert read_values(["threads", "memory_limit"], (1, "488.2 MiB")) == {"threads": "1", "memory_limit": "488.2 MiB"}
    with pytest.raises(SessionSettingError):
        read_values(["threads", "memory_limit"], (1,))
    with pytest.raises(SessionSettingError):
        readback_sql(["x') --"])


def test_the_report_says_whether_values_were_read_back() -> None:
    read = session_report(
        engine="sqlmesh",
        warehouse="postgres",
        configured={"work_mem": "64MB"},
        read_back={"work_mem": "64MB", "statement_timeout": "30s"},
        parallelism={"concurrent_tasks": 4},
    )
    assert read["settings"] == {"work_mem": "64MB", "statement_timeout": "30s"} and read["read_back"] is True
    assert report_line(read) == (
        "warehouse session: work_mem=64MB, statement_timeout=30s (read back from the warehouse); sqlmesh concurrent_tasks=4"
    )
    configured = session_report(
        engine="dbt", warehouse="postgres", configured={"work_mem": "64MB"}, read_back=None, source="resources.yml"
    )
    assert configured["settings"] == {"work_mem": "64MB"} and configured["read_back"] is False
    assert report_line(configured) == "warehouse session: work_mem=64MB (configured); from resources.yml"
    nothing = session_report(engine="dbt", warehouse="postgres", configured={}, read_back=None)
    assert report_line(nothing) == "warehouse session: nothing configured (the warehouse's defaults)"


# Where the engines take them: SQLMesh's gateway connection, dbt's profile and environment.


def test_sqlmesh_gateway_gets_concurrent_tasks_and_duckdb_settings() -> None:
    from airflow.sdk import Connection

    from airflow_provider_dualengine.hooks.sqlmesh import engine_connection_config

    duck = Connection(conn_id="w", conn_type="duckdb", host="/data/shop.duckdb")
    config = engine_connection_config(duck, concurrent_tasks=2, session={"threads": 1, "memory_limit": "512MB"})
    assert (config.concurrent_tasks, config.connector_config) == (2, {"threads": 1, "memory_limit": "512MB"})
    plain = engine_connection_config(duck)  # no resources: SQLMesh's own defaults, as before
    assert (plain.concurrent_tasks, plain.connector_config) == (1, {})
    pg = Connection(conn_id="w", conn_type="postgres", host="h", login="u", password="p", schema="db")
    assert engine_connection_config(pg, concurrent_tasks=8, session={"work_mem": "64MB"}).concurrent_tasks == 8
    assert engine_connection_config(pg).concurrent_tasks == 4


def test_dbt_profile_gets_threads_and_duckdb_settings_and_postgres_gets_pgoptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json

    from airflow_provider_dualengine.hooks.dbt import DbtHook

    monkeypatch.setenv("AIRFLOW_CONN_SESSION_DUCK", json.dumps({"conn_type": "duckdb", "host": "/data/shop.duckdb"}))
    names: dict[str, Any] = {"profile_name": "shop", "target_name": "dev", "schema": "analytics_dev"}
    duck = DbtHook(
        "session_duck", warehouse_type="duckdb", threads=4, warehouse_session={"memory_limit": "1GB"}, **names
    )
    profile = duck.profile_config().profile_mapping.profile
    assert (profile["threads"], profile["settings"]) == (4, {"memory_limit": "1GB"})
    assert duck.session_environ() == {}
    plain = DbtHook("session_duck", warehouse_type="duckdb", **names).profile_config().profile_mapping.profile
    assert plain["threads"] == 1 and "settings" not in plain  # no resources: as before
    pg = DbtHook("session_pg", warehouse_type="postgres", warehouse_session={"work_mem": "64MB"}, **names)
    assert pg.session_environ() == {"PGOPTIONS": "-c work_mem=64MB"}
    assert "settings" not in pg.profile_config().profile_mapping.profile_args  # dbt-postgres has no such field


def _project(root, resources: str | None, environments: str | None = None):
    import textwrap

    files = {
        # PostgreSQL: dbt threads are the allocation's (on DuckDB they are always 1)
        "dualengine.yml": "name: tiny\nwarehouse: {type: postgres}\nsqlmesh: {path: sqlmesh}\ndbt: {path: dbt, profile: tiny}\ndefault_environment: development\n",
        "config/dependency_graph.yml": "dependency_graph:\n  s: {engine: sqlmesh, models: [a.b]}\n",
        "config/dual_engine_environments.yml": environments
        or textwrap.dedent(
            """
            environments:
              development: {sqlmesh: {environment_suffix: _dev}, dbt: {target: dev}}
              production: {dbt: {target: prod}}
            """
        ),
        "dbt/dbt_project.yml": "name: tiny\nprofile: tiny\n",
        "sqlmesh/config.yaml": "model_defaults: {dialect: duckdb}\n",
    }
    if resources is not None:
        files["config/resources.yml"] = textwrap.dedent(resources)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


RESOURCES = """
    resource_allocation:
      sqlmesh_resources:
        development: {concurrent_tasks: 2, session: {work_mem: 1MB}}
        production: {concurrent_tasks: 4, session: {work_mem: 2MB, statement_timeout: 2s}}
      dbt_resources:
        development: {threads: 3, session: {work_mem: 512MB}}
    """


def test_an_engine_task_finds_its_allocation_in_the_project_around_it(tmp_path) -> None:
    from airflow_provider_dualengine.deployments.green_relations import green_environment
    from airflow_provider_dualengine.operators.engine_session import engine_resources

    root = _project(tmp_path, RESOURCES)

    def sqlmesh(environment: str, **given):
        return engine_resources(
            "sqlmesh",
            root / "sqlmesh",
            parallelism=given.get("parallelism"),
            session=given.get("session"),
            resources_from=None,
            matches=lambda env: environment in (env.sqlmesh_environment, green_environment(env.sqlmesh_environment)),
        )

    assert (sqlmesh("dev").parallelism, sqlmesh("dev").session) == (2, {"work_mem": "1MB"})
    assert sqlmesh("prod_green").session == {"work_mem": "2MB", "statement_timeout": "2s"}  # a deployment's green
    assert "sqlmesh_resources.production" in sqlmesh("prod").source
    assert sqlmesh("other").session == {}  # no environment plans into it
    given = sqlmesh("dev", parallelism=9, session={"threads": 7})
    assert (given.parallelism, given.session, given.source) == (9, {"threads": 7}, "operator arguments")
    dbt = engine_resources(
        "dbt",
        root / "dbt",
        parallelism=None,
        session=None,
        resources_from={"project_dir": str(root), "environment": "development"},
    )
    assert (dbt.parallelism, dbt.session) == (3, {"work_mem": "512MB"})
    assert engine_resources("dbt", root / "dbt", parallelism=None, session=None, resources_from=None).session == {}


def test_without_resources_nothing_changes(tmp_path) -> None:
    from airflow_provider_dualengine.operators.engine_session import EngineResources, engine_resources

    root = _project(tmp_path / "p", None)
    found = engine_resources("sqlmesh", root / "sqlmesh", parallelism=None, session=None, resources_from=None)
    assert found == EngineResources()
    elsewhere = engine_resources(
        "sqlmesh", tmp_path / "lonely", parallelism=None, session=None, resources_from=None, matches=lambda e: True
    )
    assert elsewhere == EngineResources()


def test_environments_sharing_a_target_but_not_an_allocation_get_none(tmp_path) -> None:
    import logging

    from airflow_provider_dualengine.operators.engine_session import engine_resources

    shared = """
        environments:
          development: {sqlmesh: {environment_suffix: _dev}, dbt: {target: dev}}
          staging: {sqlmesh: {environment_suffix: _stg}, dbt: {target: dev, schema: staging}}
        """
    resources = """
        resource_allocation:
          dbt_resources:
            development: {threads: 2}
            staging: {threads: 5}
        """
    root = _project(tmp_path, resources, shared)
    log = logging.getLogger("test")
    found = engine_resources(
        "dbt",
        root / "dbt",
        parallelism=None,
        session=None,
        resources_from=None,
        matches=lambda env: env.dbt_target == "dev",
        log=log,
    )
    assert found.parallelism is None
    named = engine_resources(
        "dbt", root / "dbt", parallelism=None, session=None, resources_from={"environment": "staging"}
    )
    assert named.parallelism == 5


def test_cosmos_renders_the_profile_with_the_allocation(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from airflow_provider_dualengine.config.project import load_project
    from airflow_provider_dualengine.factory.dbt_tasks import _cosmos_hook, _operator_args
    from airflow_provider_dualengine.factory.render_context import RenderContext

    root = _project(tmp_path, RESOURCES)
    monkeypatch.setenv(
        "AIRFLOW_CONN_DUALENGINE_WAREHOUSE",
        json.dumps({"conn_type": "postgres", "host": "db", "login": "u", "password": "pw-secret", "schema": "w"}),
    )
    project = load_project(root)
    ctx = RenderContext(project=project, environment=project.environment("development"))
    profile = _cosmos_hook(ctx).profile_config().profile_mapping.profile
    assert profile["threads"] == 3 and "settings" not in profile  # dbt-postgres has no settings field
    assert _operator_args(ctx, (), _cosmos_hook(ctx))["env"]["PGOPTIONS"] == "-c work_mem=512MB"
    prod = RenderContext(project=project, environment=project.environment("production"))
    assert _cosmos_hook(prod).profile_config().profile_mapping.profile["threads"] == 1  # no dbt allocation there
