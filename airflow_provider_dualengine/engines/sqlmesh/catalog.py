"""List a SQLMesh project's models by reading model files, without importing SQLMesh.

Importing sqlmesh costs ~2.5 s and a full Context load several seconds more, far too
much for a DAG file. Names and kinds are read from the MODEL(...) header of SQL models
and the @model(...) decorator of Python models; everything else is left to SQLMesh at
run time.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from airflow_provider_dualengine.engines.catalog import CatalogModel, ModelCatalog

_MODEL_HEADER = re.compile(r"^\s*MODEL\s*\(", re.IGNORECASE | re.MULTILINE)
_NAME = re.compile(r"(?:^|[\s,(])name\s+([`\"\w.]+)", re.IGNORECASE)
_KIND = re.compile(r"(?:^|[\s,(])kind\s+([A-Z_]+)", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _header_block(sql: str) -> str | None:
    """Text inside the balanced parentheses of the first MODEL(...)."""
    match = _MODEL_HEADER.search(sql)
    if not match:
        return None
    depth, start = 0, match.end() - 1
    for index in range(start, len(sql)):
        if sql[index] == "(":
            depth += 1
        elif sql[index] == ")":
            depth -= 1
            if depth == 0:
                return sql[start + 1 : index]
    return None


def _sql_model(path: Path) -> CatalogModel | None:
    block = _header_block(_COMMENTS.sub("", path.read_text(encoding="utf-8")))
    if block is None:
        return None
    name = _NAME.search(block)
    if not name:
        return None
    kind = _KIND.search(block)
    return _model(name.group(1).replace('"', "").replace("`", ""), path, kind.group(1).upper() if kind else "VIEW")


def _python_models(path: Path) -> list[CatalogModel]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", getattr(deco.func, "attr", None)) == "model":
                name = deco.args[0] if deco.args else next((k.value for k in deco.keywords if k.arg == "name"), None)
                kind = next((k.value for k in deco.keywords if k.arg == "kind"), None)
                kind_name = _python_kind(kind)
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.append(_model(name.value, path, kind_name))
    return found


def _python_kind(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.upper()
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values):
            if isinstance(key, ast.Constant) and key.value == "name":
                return _python_kind(value)
    if isinstance(node, ast.Attribute):
        return node.attr.upper()
    return "FULL"


def _model(name: str, path: Path, kind: str) -> CatalogModel:
    schema = name.rsplit(".", 1)[0].rsplit(".", 1)[-1] if "." in name else None
    return CatalogModel(engine="sqlmesh", name=name, path=path, kind=kind, schema=schema)


def scan_sqlmesh_project(project_path: Path) -> ModelCatalog:
    catalog = ModelCatalog(engine="sqlmesh", source=project_path)
    models_dir = project_path / "models"
    for path in sorted(models_dir.rglob("*")) if models_dir.is_dir() else []:
        if path.suffix == ".sql":
            found = [m for m in [_sql_model(path)] if m]
        elif path.suffix == ".py" and not path.name.startswith("_"):
            found = _python_models(path)
        else:
            continue
        for model in found:
            catalog.models[model.name] = model
    return catalog
