"""Malformed files (kind 1) and other user mistakes (kind 8), through `dualengine` in-process.

Files that are not UTF-8, not YAML/JSON, or YAML/JSON of the wrong shape: the project
settings, the dependency graph, the environments, contract files, dbt_project.yml, the
compiled artifact, and a `contracts diff --base` folder. Cases that also reach DAG parsing
are loaded with Airflow's DagBag too: the import error is the same message.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.cli._corpus import (
    assert_clean_failure,
    assert_readable_import_error,
    dag_import_error,
    replace,
    run_cli,
)

FIX_COMPILE = "fix: run `dualengine compile {P}`"


def _write(rel: str, data: bytes | str) -> Callable[[Path], None]:
    def mutate(project: Path) -> None:
        (project / rel).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return mutate


def _edit(rel: str, old: str, new: str) -> Callable[[Path], None]:
    return lambda project: replace(project / rel, old, new)


def _folder_instead(rel: str) -> Callable[[Path], None]:
    def mutate(project: Path) -> None:
        (project / rel).unlink()
        (project / rel).mkdir()

    return mutate


def _artifact(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(project: Path) -> None:
        path = project / "target" / "dualengine.json"
        artifact = json.loads(path.read_text())
        change(artifact)
        path.write_text(json.dumps(artifact))

    return mutate


@dataclass
class Case:
    mutate: Callable[[Path], None]
    expected: tuple[str, ...]
    argv: tuple[str, ...] = ("validate", "{P}")
    dag: bool = False  # also load the example DAG file on the broken project
    exit_code: int = 1
    more: list[str] = field(default_factory=list)


SETTINGS = "dualengine.yml"
GRAPH = "config/dependency_graph.yml"
ENVS = "config/dual_engine_environments.yml"
CONTRACT = "shared/schemas/customer_value.yml"
ARTIFACT = "target/dualengine.json"

CASES: dict[str, Case] = {
    # --- dualengine.yml -----------------------------------------------------------------
    "settings not UTF-8": Case(
        _write(SETTINGS, b"name: shop\n\xff\xfe\n"),
        ("{P}/dualengine.yml: line 2: is not UTF-8 text (byte 0xff at offset 11)", "fix: save it as UTF-8 text"),
        dag=True,
    ),
    "settings binary file": Case(
        _write(SETTINGS, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
        ("{P}/dualengine.yml: line 1: is not UTF-8 text (byte 0x89 at offset 0)",),
    ),
    "settings invalid YAML": Case(
        _write(SETTINGS, "name: shop\ndbt: {path: dbt, profile: shop\ndefault_environment: development\n"),
        (
            "{P}/dualengine.yml: line 3, column 20: invalid YAML: did not find expected ',' or '}}'",
            "fix: fix the YAML syntax",
        ),
        dag=True,
    ),
    "settings control character": Case(
        _write(SETTINGS, "name: shop\x07\n"),
        (
            "{P}/dualengine.yml: line 1: invalid YAML: unacceptable character #x0007",
            "fix: remove the control character",
        ),
    ),
    "settings a list": Case(
        _write(SETTINGS, "- name: shop\n- dbt: {profile: shop}\n"),
        (
            "{P}/dualengine.yml: the document is a list, not a mapping of keys",
            "fix: write it as `key: value` lines with name:, dbt:, default_environment:",
        ),
        dag=True,
    ),
    "settings a scalar": Case(
        _write(SETTINGS, "shop\n"), ("{P}/dualengine.yml: the document is a single text value, not a mapping of keys",)
    ),
    "settings empty": Case(
        _write(SETTINGS, "# nothing yet\n"),
        (
            "{P}/dualengine.yml: the file is empty (or only comments)",
            "fix: write the document: a mapping with name:, dbt:, default_environment:",
        ),
        dag=True,
    ),
    "settings section a list": Case(
        _edit(SETTINGS, "sqlmesh:\n  path: sqlmesh\n  gateway: duckdb", "sqlmesh: [sqlmesh, duckdb]"),
        ("{P}/dualengine.yml: sqlmesh: expected a mapping (key: value), found a list", "fix: write it as a mapping"),
    ),
    "settings key null": Case(
        _edit(SETTINGS, "  profile: shop\n", "  profile:\n"),
        ("{P}/dualengine.yml: dbt.profile: expected text, found nothing (null)",),
    ),
    "settings is a folder": Case(_folder_instead(SETTINGS), ("{P}/dualengine.yml: is a folder, not a file",)),
    # --- dependency graph -------------------------------------------------------------
    "graph not UTF-8 (latin-1)": Case(
        _write(GRAPH, "dependency_graph:\n  st\u00e4ge_1: {}\n".encode("latin-1")),
        ("{P}/config/dependency_graph.yml: line 2: is not UTF-8 text (byte 0xe4 at offset 22)",),
        dag=True,
    ),
    "graph tab indentation": Case(
        _write(GRAPH, "dependency_graph:\n\tstage_1:\n"),
        (
            "{P}/config/dependency_graph.yml: line 2, column 1: invalid YAML: a tab character; YAML indents with spaces",
            "fix: replace the tab by spaces",
        ),
    ),
    "graph empty": Case(
        _write(GRAPH, ""),
        (
            "{P}/config/dependency_graph.yml: the file is empty (or only comments)",
            "fix: write the document: a mapping with dependency_graph:",
        ),
        dag=True,
    ),
    "graph a list": Case(
        _write(GRAPH, "- stage_1_sqlmesh\n"),
        ("{P}/config/dependency_graph.yml: the document is a list, not a mapping of keys",),
    ),
    "graph stages a list": Case(
        _write(GRAPH, "dependency_graph: [stage_1_sqlmesh]\n"),
        ("{P}/config/dependency_graph.yml: dependency_graph: expected a mapping (key: value), found a list",),
        dag=True,
    ),
    "graph stage a number": Case(
        _write(GRAPH, "dependency_graph:\n  stage_1: 3\n"),
        ("{P}/config/dependency_graph.yml: dependency_graph.stage_1: expected a mapping (key: value), found a number",),
    ),
    "graph paths a single text": Case(
        _edit(
            GRAPH,
            "paths: [sqlmesh/seeds/customers.csv, sqlmesh/seeds/orders.csv]",
            "paths: sqlmesh/seeds/customers.csv",
        ),
        (
            "{P}/config/dependency_graph.yml: external_inputs.source_data.paths: expected a list, found a single text value",
            "fix: write it as a list",
        ),
    ),
    "graph path is a folder": Case(
        _edit(SETTINGS, "dependency_graph: config/dependency_graph.yml", "dependency_graph: config"),
        ("{P}/config: is a folder, not a file",),
    ),
    # --- environments -----------------------------------------------------------------
    "environments not UTF-8": Case(
        _write(ENVS, b"environments:\n  development:\n    dbt: {target: d\xe9v}\n"),
        ("{P}/config/dual_engine_environments.yml: line 3: is not UTF-8 text (byte 0xe9",),
    ),
    "environments a scalar": Case(
        _write(ENVS, "production\n"),
        ("{P}/config/dual_engine_environments.yml: the document is a single text value, not a mapping of keys",),
        dag=True,
    ),
    "environment entry a number": Case(
        _write(ENVS, "environments:\n  development: 3\n"),
        (
            "{P}/config/dual_engine_environments.yml: environments.development: expected a mapping (key: value), found a number",
        ),
    ),
    "environment suffix without underscore": Case(
        _edit(ENVS, 'environment_suffix: "_dev"', 'environment_suffix: "dev"'),
        (
            "{P}/config/dual_engine_environments.yml: environments.development.sqlmesh.environment_suffix: String should match pattern",
            'fix: start it with an underscore, e.g. "_dev"',
        ),
    ),
    "environments unhashable key": Case(
        _write(ENVS, "environments:\n  ? [a, b]\n  : {}\n"),
        ("{P}/config/dual_engine_environments.yml: line 2, column 5: invalid YAML: found unhashable key",),
    ),
    "environments duplicate": Case(
        lambda p: (p / ENVS).write_text((p / ENVS).read_text() + "  development:\n    dbt: {target: dev}\n"),
        ("{P}/config/dual_engine_environments.yml: line 18: duplicate key 'development' (first defined on line 2)",),
    ),
    # --- contract files -------------------------------------------------------------------
    "contract not UTF-8": Case(
        lambda p: (p / CONTRACT).write_bytes(
            (p / CONTRACT).read_bytes().replace(b"Lifetime value band", b"Lifetime value b\xe4nd")
        ),
        ("{P}/shared/schemas/customer_value.yml: line 6: is not UTF-8 text (byte 0xe4",),
        dag=True,
    ),
    "contract invalid YAML": Case(
        _edit(CONTRACT, "producer: dbt", "producer: [dbt"),
        ("{P}/shared/schemas/customer_value.yml: line 24, column 14: invalid YAML: did not find expected ',' or ']'",),
    ),
    "contract a list": Case(
        _write(CONTRACT, "- name: customer_value\n  producer: dbt\n"),
        (
            "{P}/shared/schemas/customer_value.yml: the document is a list, not a mapping of keys",
            "with version:, models:",
        ),
        dag=True,
    ),
    "contract empty": Case(
        _write(CONTRACT, ""), ("{P}/shared/schemas/customer_value.yml: the file is empty (or only comments)",)
    ),
    "contract models a mapping": Case(
        _write(CONTRACT, "version: 1\nmodels:\n  customer_value: {producer: dbt}\n"),
        ("{P}/shared/schemas/customer_value.yml: models: expected a list, found a mapping", "fix: write it as a list"),
    ),
    # --- dbt_project.yml (read at parse for Cosmos) --------------------------------------
    "dbt_project.yml invalid YAML": Case(
        _edit("dbt/dbt_project.yml", "name: shop", "name: [shop"),
        ("{P}/dbt/dbt_project.yml: line 4, column 8: invalid YAML: expected ',' or ']', but got ':'",),
        dag=True,
    ),
    "dbt_project.yml without name": Case(
        _edit("dbt/dbt_project.yml", "name: shop\n", ""),
        ("{P}/dbt/dbt_project.yml: name: the dbt project has no `name`", "fix: add `name: <project name>`"),
    ),
    # --- the compiled artifact ----------------------------------------------------------
    "artifact not UTF-8": Case(
        _write(ARTIFACT, b'{"version": 1, "n\xff": 1}'),
        (
            "{P}/dualengine.yml: compiled: compiled artifact {P}/target/dualengine.json is not UTF-8 text (byte at offset 17)",
            FIX_COMPILE,
        ),
        dag=True,
    ),
    "artifact not JSON": Case(
        _write(ARTIFACT, "version: 1\n"),
        (
            "compiled artifact {P}/target/dualengine.json is not valid JSON (Expecting value: line 1 column 1 (char 0))",
            FIX_COMPILE,
        ),
        argv=("lineage", "{P}"),
        dag=True,
    ),
    "artifact a JSON list": Case(
        _write(ARTIFACT, "[1, 2]"),
        (
            "compiled artifact {P}/target/dualengine.json is not what `dualengine compile` writes: the document is a JSON list, not an object",
            FIX_COMPILE,
        ),
        argv=("contracts", "check", "{P}"),
        dag=True,
    ),
    "artifact missing keys": Case(
        _write(ARTIFACT, '{"version": 1, "sqlmesh": {}}'),
        (
            "compiled artifact {P}/target/dualengine.json is not what `dualengine compile` writes: it has no 'sources', 'dbt'",
            FIX_COMPILE,
        ),
        argv=("impact", "{P}", "staging.stg_orders"),
        dag=True,
    ),
    "artifact model entry wrong": Case(
        _artifact(lambda a: a["sqlmesh"]["models"].__setitem__("staging.stg_orders", 5)),
        (
            "is not what `dualengine compile` writes: SQLMesh model 'staging.stg_orders' has no kind or depends_on",
            FIX_COMPILE,
        ),
    ),
    "artifact dbt entry wrong": Case(
        _artifact(lambda a: a["dbt"]["models"]["customer_value"].__setitem__("colour", "red")),
        ("is not what `dualengine compile` writes: dbt model 'customer_value' is not a model entry",),
        argv=("lineage", "{P}", "--format", "mermaid"),
    ),
    "artifact a folder": Case(
        _folder_instead(ARTIFACT),
        (
            "compiled artifact {P}/target/dualengine.json is a folder, not the JSON file `dualengine compile` writes",
            FIX_COMPILE,
        ),
    ),
    # --- kind 8: other mistakes at the terminal ---------------------------------------------
    "project folder missing": Case(
        lambda p: None,
        ("{P}/nope: project folder does not exist", "fix: pass the folder holding dualengine.yml"),
        argv=("validate", "{P}/nope"),
    ),
    "project folder is a file": Case(
        lambda p: None,
        ("{P}/dualengine.yml: is a file, not a project folder", "fix: pass the folder holding dualengine.yml ({P})"),
        argv=("lineage", "{P}/dualengine.yml"),
    ),
    "unknown environment (validate)": Case(
        lambda p: None,
        (
            "{P}/config/dual_engine_environments.yml: environments: unknown environment 'staging'",
            "fix: use one of: development, production",
        ),
        argv=("validate", "{P}", "-e", "staging"),
    ),
    "unknown environment (compile)": Case(
        lambda p: None,
        ("unknown environment 'prod'", "fix: use one of: development, production"),
        argv=("compile", "{P}", "--environment", "prod"),
    ),
    "unknown environment (deployments)": Case(
        lambda p: None, ("unknown environment 'qa'",), argv=("deployments", "{P}", "-e", "qa")
    ),
    "never compiled (lineage)": Case(
        lambda p: (p / ARTIFACT).unlink(),
        ("{P}/dualengine.yml: compiled: compiled artifact not found at {P}/target/dualengine.json", FIX_COMPILE),
        argv=("lineage", "{P}"),
    ),
    "impact of an unknown model": Case(
        lambda p: None,
        (
            "error: model 'staging.stg_ordrs': no such model in either project (SQLMesh or dbt)",
            "fix: did you mean staging.stg_orders",
        ),
        argv=("impact", "{P}", "staging.stg_ordrs"),
        exit_code=2,
    ),
    "impact of an unknown column": Case(
        lambda p: None,
        (
            "error: model sqlmesh:staging.stg_orders has no column 'amout' (it has: amount, customer_id, order_date, order_id, status)",
        ),
        argv=("impact", "{P}", "staging.stg_orders", "--column", "amout"),
        exit_code=2,
    ),
    "impact with a broken contract": Case(
        _write(CONTRACT, b"version: 1\nmodels: \xff\n"),
        ("{P}/shared/schemas/customer_value.yml: line 2: is not UTF-8 text",),
        argv=("impact", "{P}", "customer_value"),
    ),
    "resources overlapping windows": Case(
        _edit("config/resources.yml", 'off_peak_hours: "6pm-8am"', 'off_peak_hours: "5pm-8am"'),
        (
            "{P}/config/resources.yml: execution_schedule: peak_hours (08:00-18:00) overlaps off_peak_hours (17:00-08:00): windows must cover the day exactly once",
            "fix: see docs/resources.md#execution-windows",
        ),
        dag=True,
    ),
    "resources unknown session setting": Case(
        _edit("config/resources.yml", "      threads: 2\n", "      threads: 2\n      session: {work_mem: 64MB}\n"),
        (
            "{P}/config/resources.yml: resource_allocation.dbt_resources.development.session.work_mem: 'work_mem' is not a session setting this provider applies on duckdb",
            "fix: use one of: threads, memory_limit (docs/resources.md)",
        ),
        dag=True,
    ),
    "engine selection override without a reason": Case(
        _edit(
            "config/engine_selection_rules.yml",
            'reason: "Landing and incremental loads',
            'reason: ""  # "Landing and incremental loads',
        ),
        (
            "{P}/config/engine_selection_rules.yml: engine_selection.override_rules.force_sqlmesh.reason: String should have at least 1 character",
            "fix: say why these models must run on that engine (every report shows it), e.g. `reason: BI tool integration`",
        ),
        dag=True,
    ),
    "model organization unknown engine": Case(
        _edit("config/model_organization.yml", "      engines: [sqlmesh, dbt]\n", "      engines: [sqlmesh, spark]\n"),
        (
            "{P}/config/model_organization.yml: layers.definitions.business.engines[1]: Input should be 'sqlmesh' or 'dbt'",
            "fix: use one of the allowed values",
        ),
        dag=True,
    ),
    "cross-engine check of an unknown type": Case(
        _edit("shared/tests/cross_engine_checks.yml", "type: row_count_match", "type: row_count"),
        (
            "{P}/shared/tests/cross_engine_checks.yml: checks[1]: Input tag 'row_count' found using 'type' does not match any of the expected tags",
            "fix: see docs/testing.md for the check types and their keys",
        ),
    ),
    "cross-engine check naming an unknown model": Case(
        _edit(
            "shared/tests/cross_engine_checks.yml",
            "right: dbt:customer_value\n    key:",
            "right: dbt:customer_values\n    key:",
        ),
        (
            "{P}/shared/tests/cross_engine_checks.yml: checks[0].right:",
            "customer_values",
            "fix: name a model as `engine:name`",
        ),
    ),
    "cross-engine check naming an unknown model, before dualengine test builds anything": Case(
        _edit(
            "shared/tests/cross_engine_checks.yml",
            "left: sqlmesh:intermediate.customer_lifetime\n    right: dbt:customer_value\n    key:",
            "left: sqlmesh:intermediate.lifetime\n    right: dbt:customer_value\n    key:",
        ),
        (
            "{P}/shared/tests/cross_engine_checks.yml: checks[0].left:",
            "intermediate.lifetime",
            "engine logs: ",
        ),
        argv=("test", "{P}"),
    ),
    "contracts diff without a base": Case(
        lambda p: None,
        ("error: dualengine contracts diff: give --base DIR, --against-prod, or both",),
        argv=("contracts", "diff", "{P}"),
        exit_code=2,
    ),
}


def _base_folder(tmp_path: Path, files: dict[str, bytes] | None) -> Path:
    base = tmp_path / "base"
    if files is not None:
        base.mkdir()
        for name, data in files.items():
            (base / name).write_bytes(data)
    return base


BASE_CASES = {
    "base missing": (None, "{B}: the base contract folder does not exist"),
    "base empty": (
        {},
        "{B}: the base contract folder holds no contract file (*.yml, *.yaml), so every contract would look new",
    ),
    "base file not UTF-8": (
        {"customer_value.yml": b"version: 1\nmodels:\n  - name: customer_v\xe4lue\n"},
        "{B}/customer_value.yml: line 3: is not UTF-8 text",
    ),
    "base file a list": (
        {"customer_value.yml": b"- customer_value\n"},
        "{B}/customer_value.yml: the document is a list, not a mapping of keys",
    ),
    "base file bad constraint": (
        {
            "c.yml": b"version: 1\nmodels:\n  - name: customer_value\n    producer: dbt\n    columns:\n      - {name: customer_id, data_type: integer, constraints: [{type: uniq}]}\n"
        },
        "{B}/c.yml: models[0].columns[0].constraints[0]: Input tag 'uniq' found using 'type' does not match any of the expected tags",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_one_clear_error(name: str, project_copy: Path, tmp_path: Path, capsys) -> None:
    case = CASES[name]
    case.mutate(project_copy)
    P = str(project_copy)
    code, _, err = run_cli(capsys, *(a.format(P=P) for a in case.argv))
    assert_clean_failure(code, err, *(e.format(P=P) for e in case.expected), exit_code=case.exit_code)
    if case.dag:
        message = dag_import_error(project_copy, tmp_path / "dags")
        assert_readable_import_error(message, *(e.format(P=P) for e in case.expected))


@pytest.mark.parametrize("name", sorted(BASE_CASES))
def test_contracts_diff_base_folder(name: str, project_copy: Path, tmp_path: Path, capsys) -> None:
    files, expected = BASE_CASES[name]
    base = _base_folder(tmp_path, files)
    code, _, err = run_cli(capsys, "contracts", "diff", project_copy, "--base", base)
    assert_clean_failure(code, err, expected.format(B=base), "fix: ")


def test_contracts_diff_base_that_is_a_file(project_copy: Path, capsys) -> None:
    file = project_copy / CONTRACT
    code, _, err = run_cli(capsys, "contracts", "diff", project_copy, "--base", file)
    assert_clean_failure(
        code,
        err,
        f"{file}: the base contract folder is a file, not a folder",
        "fix: pass the folder holding the contract *.yml files",
    )


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(project_copy: Path, capsys, monkeypatch) -> None:
    """A real bug is not dressed up as a user mistake: one line naming its type, and
    `--debug` (anywhere on the command line) raises it with its traceback."""
    import airflow_provider_dualengine.graph as graph

    def broken(*args, **kwargs):
        raise RuntimeError("boom in the graph\nsecond line")

    monkeypatch.setattr(graph, "build_graph", broken)
    code, out, err = run_cli(capsys, "lineage", project_copy)
    assert code == 1 and out == ""
    assert err == "error: RuntimeError: boom in the graph\n(unexpected; run with --debug for the traceback)\n"
    with pytest.raises(RuntimeError, match="boom in the graph"):
        run_cli(capsys, "lineage", project_copy, "--debug")


def test_validate_never_writes_the_artifact(project_copy: Path, capsys) -> None:
    """A stale artifact fails validate with the changed files named; nothing is compiled."""
    artifact = project_copy / ARTIFACT
    before = artifact.read_bytes()
    model = project_copy / "sqlmesh" / "models" / "staging" / "stg_orders.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    (project_copy / "dbt" / "models" / "staging" / "stg_new.sql").write_text("select 1 as x\n")
    shutil.rmtree(project_copy / "sqlmesh" / "tests")
    code, _, err = run_cli(capsys, "validate", project_copy)
    assert_clean_failure(
        code,
        err,
        f"compiled artifact {artifact} is stale: 3 SQLMesh/dbt source file(s) changed since it was written: dbt/models/staging/stg_new.sql (new), sqlmesh/tests/test_customer_lifetime.yaml (deleted), sqlmesh/models/staging/stg_orders.sql (changed)",
        "or `dualengine validate --compile`",
    )
    assert artifact.read_bytes() == before
