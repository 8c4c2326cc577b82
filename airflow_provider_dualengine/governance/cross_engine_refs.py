"""Cross-engine reads that bypass the environment-aware mechanisms (naming_conventions.cross_engine_refs).

A model of one engine reads the other engine's model through something that follows the
environment: dbt's `ref('staging.stg_orders')` (the dbt_dualengine plugin), a dbt source
whose schema carries the SQLMesh suffix var and says `meta: {sqlmesh_model: ...}`, and
SQLMesh's `@dbt_model(customer_value)` macro. A relation written out by hand
(`from staging.stg_orders`, `FROM analytics.customer_value`) names the same schema in
every environment: a development run reads production, or fails where the table does not
exist yet, and the read is invisible to anyone looking for cross-engine references.

Three findings: (a) a dbt model whose SQL names a SQLMesh model's relation, (b) a SQLMesh
model that names a dbt model's relation, (c) a dbt source table over a SQLMesh model that
does not say which (`meta.sqlmesh_model`). The raw model files are read, not the compiled
SQL: after compilation a ref() and a hand-written relation look the same.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.compiled.edges import NodeKey
from airflow_provider_dualengine.config.engine import Engine
from airflow_provider_dualengine.config.model_organization import Severity
from airflow_provider_dualengine.config.project import Project
from airflow_provider_dualengine.governance.facts import ModelFacts, ProjectFacts
from airflow_provider_dualengine.governance.findings import Finding

RULE = "naming.cross_engine_refs"
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_JINJA_STATEMENT = re.compile(r"\{%.*?%\}", re.S)
_JINJA_CONFIG = re.compile(r"\{\{-?\s*config\s*\(.*?\}\}", re.S)
_JINJA_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.S)
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FROM_TABLE = re.compile(r'\b(?:from|join)\s+((?:"?[A-Za-z_]\w*"?\.){1,2}"?[A-Za-z_]\w*"?)', re.I)
_PLACEHOLDER = " __dualengine_jinja__ "  # an identifier where an expression stood (a ref(), a var())


def display(key: NodeKey, fmt: str) -> str:
    """A model as reports name it: `sqlmesh.staging.customer_enhanced` (engine.model_name)
    or `sqlmesh:staging.customer_enhanced` (engine:model_name)."""
    return f"{key[0].value}{'.' if fmt == 'engine.model_name' else ':'}{key[1]}"


def cross_engine_findings(
    project: Project, facts: ProjectFacts, severity: Severity, fmt: str, exempt: Iterable[NodeKey] = ()
) -> list[Finding]:
    """(a), (b) and (c) for every model not `exempt` and every dbt source of the project."""
    skip = set(exempt)
    sqlmesh_relations = _sqlmesh_relations(project, facts)
    dbt_relations = _dbt_relations(project, facts)
    has_macro = _has_dbt_model_macro(project.sqlmesh_path / "macros")
    findings: list[Finding] = []
    for model in sorted(facts, key=lambda m: m.node_id):
        if model.key in skip or model.path is None or not (project.root / model.path).is_file():
            continue
        text = (project.root / model.path).read_text(encoding="utf-8", errors="replace")
        if model.engine is Engine.DBT and not model.python:
            for table in sorted(_dbt_sql_tables(text, model.dialect)):
                if table in sqlmesh_relations:
                    findings.append(_dbt_finding(project, model, table, sqlmesh_relations[table], severity, fmt))
        elif model.engine is Engine.SQLMESH:
            tables = _python_tables(text) if model.python else _sqlmesh_sql_tables(text, model.dialect)
            for table in sorted(tables):
                if table in dbt_relations:
                    findings.append(
                        _sqlmesh_finding(project, model, table, dbt_relations[table], severity, fmt, has_macro)
                    )
    return findings + _source_findings(project, sqlmesh_relations, severity, fmt)


def _sqlmesh_relations(project: Project, facts: ProjectFacts) -> dict[str, str]:
    """`staging.stg_orders`, `staging__dev.stg_orders` (every environment's views) -> model."""
    suffixes = {""} | {project.environment(name).sqlmesh_view_suffix for name in project.environments}
    found = {}
    for model in facts:
        if model.engine is Engine.SQLMESH and "." in model.name:
            schema, table = model.name.rsplit(".", 1)
            for suffix in suffixes:
                found[f"{schema}{suffix}.{table}".lower()] = model.name
    return found


def _dbt_relations(project: Project, facts: ProjectFacts) -> dict[str, str]:
    """`analytics.customer_value`, `analytics_dev.customer_value` (every environment's
    schema, the model's alias) -> model."""
    schemas = {project.settings.dbt.schema_} | {project.environment(name).dbt_schema for name in project.environments}
    found = {}
    for model in facts:
        if model.engine is Engine.DBT:
            relation = facts.graph.relation_of(model.key) or f"{model.schema}.{model.name}"
            schema, _, table = relation.rpartition(".")
            for name in schemas | ({schema} if schema else set()):
                found[f"{name}.{table}".lower()] = model.name
    return found


def _tables_of(expressions: Iterable[Any]) -> set[str]:
    from sqlglot import exp

    return {
        f"{t.db}.{t.name}".lower()
        for e in expressions
        if e is not None
        for t in e.find_all(exp.Table)
        if t.db and isinstance(t.this, exp.Identifier)
    }


def _dbt_sql_tables(text: str, dialect: str) -> set[str]:
    """`schema.table` names a dbt model's SQL writes out, Jinja set aside (a ref() or a
    source() becomes a plain identifier, blocks and comments go)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    sql = _JINJA_COMMENT.sub(" ", text)
    sql = _JINJA_STATEMENT.sub(" ", sql)
    sql = _JINJA_CONFIG.sub(" ", sql)
    sql = _JINJA_EXPRESSION.sub(_PLACEHOLDER, sql)
    try:
        return _tables_of(sqlglot.parse(sql, read=dialect))
    except SqlglotError:
        # SQL that Jinja assembles in ways this cannot follow: the plain `FROM schema.table`
        # and `JOIN schema.table` it holds are still read.
        # Comments go first: a table named in a comment is no read.
        code = _SQL_COMMENT.sub(" ", sql)
        return {".".join(m[1].replace('"', "").split(".")[-2:]).lower() for m in _FROM_TABLE.finditer(code)}


def _sqlmesh_sql_tables(text: str, dialect: str) -> set[str]:
    """Tables the queries of a SQLMesh model file name (not its MODEL block, not what a
    macro such as @dbt_model() renders)."""
    from sqlmesh.core import dialect as sqlmesh_dialect

    try:
        expressions = sqlmesh_dialect.parse(text, default_dialect=dialect)
    except Exception:  # noqa: BLE001 - the compile parsed it; nothing to say if this cannot
        return set()
    return _tables_of(e for e in expressions if not isinstance(e, sqlmesh_dialect.Model | sqlmesh_dialect.Audit))


def _python_tables(text: str) -> set[str]:
    """A SQLMesh Python model: string constants naming a table (`depends_on`) or holding
    SQL that reads one."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set()
    tables: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        value = node.value.strip()
        if re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", value):
            tables.add(value.lower())
        elif re.search(r"\b(from|join)\b", value, re.I):
            try:
                tables |= _tables_of(sqlglot.parse(value))
            except SqlglotError:
                continue
    return tables


def _has_dbt_model_macro(folder: Path) -> bool:
    return any(
        "def dbt_model(" in path.read_text(encoding="utf-8", errors="replace") for path in sorted(folder.glob("*.py"))
    )


def _dbt_finding(project: Project, model: ModelFacts, table: str, target: str, severity: Severity, fmt: str) -> Finding:
    return Finding(
        severity,
        f"{RULE}.dbt_hard_coded",
        model.node_id,
        f"reads {display((Engine.SQLMESH, target), fmt)} as the hard-coded relation {table}, bypassing ref() and "
        "source(): it names the same schema in every environment (a development run reads another environment's data)",
        f"write {{{{ ref('{target}') }}}} instead of {table} in {model.path} "
        f"(or a source table with `meta: {{sqlmesh_model: {target}}}` and the {project.settings.dbt.sqlmesh_suffix_var} suffix var)",
        project.root / model.path if model.path else None,
    )


def _sqlmesh_finding(
    project: Project, model: ModelFacts, table: str, target: str, severity: Severity, fmt: str, has_macro: bool
) -> Finding:
    if model.python:
        how = (
            f"build the table with dbt_table('{target}', prod_schema='{project.settings.dbt.schema_}') "
            "(airflow_provider_dualengine.engines.sqlmesh.dbt_tables) in the model's code"
        )
    else:
        how = f"write @dbt_model({target}) instead of {table} in {model.path}"
        if not has_macro:
            how += " (add the dbt_model macro to the SQLMesh project's macros/: see docs/model-organization.md)"
    return Finding(
        severity,
        f"{RULE}.sqlmesh_hard_coded",
        model.node_id,
        f"reads {display((Engine.DBT, target), fmt)} as the hard-coded relation {table}, bypassing @dbt_model(): "
        "it names the same dbt schema in every environment (a development run reads another environment's data)",
        how,
        project.root / model.path if model.path else None,
    )


def _source_findings(
    project: Project, sqlmesh_relations: dict[str, str], severity: Severity, fmt: str
) -> list[Finding]:
    """(c): the project's dbt sources whose table is a SQLMesh model (in any environment's
    view schema) and whose `meta.sqlmesh_model` is missing or names another model."""
    try:
        manifest = json.loads(project.dbt_manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # load_facts read it moments ago; a vanished manifest is its error to report
    package = (manifest.get("metadata") or {}).get("project_name")
    findings = []
    for source in sorted((manifest.get("sources") or {}).values(), key=lambda s: s.get("unique_id", "")):
        if source.get("package_name") != package:
            continue
        table = f"{source.get('schema')}.{source.get('identifier') or source.get('name')}".lower()
        target = sqlmesh_relations.get(table)
        if target is None:
            continue
        meta = {**(source.get("source_meta") or {}), **(source.get("meta") or {})}
        declared = meta.get("sqlmesh_model")
        if declared == target:
            continue
        name = f"{source.get('source_name')}.{source.get('name')}"
        file = project.dbt_path / source.get("original_file_path", "")
        said = f"its meta.sqlmesh_model says {declared}" if declared else "it has no meta.sqlmesh_model"
        findings.append(
            Finding(
                severity,
                f"{RULE}.source_meta",
                f"dbt:source:{name}",
                f"source('{source.get('source_name')}', '{source.get('name')}') reads {display((Engine.SQLMESH, target), fmt)}, "
                f"but {said}: the cross-engine read is not declared where dbt's users look for it",
                f"set `meta: {{sqlmesh_model: {target}}}` on table '{source.get('name')}' of source "
                f"'{source.get('source_name')}' in {file.relative_to(project.root) if file.is_relative_to(project.root) else file}, "
                f"or read it with {{{{ ref('{target}') }}}}",
                file,
            )
        )
    return findings
