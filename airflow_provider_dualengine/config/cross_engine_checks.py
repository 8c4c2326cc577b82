"""`shared/tests/*.yml`: reconciliation checks across the engines, run by `dualengine test`.

The seed's `shared/tests/` ("cross-engine tests") in a small declarative format
(docs/testing.md). Each file holds `checks:`, each check one of:

- `row_count_match`: `left` and `right` have the same number of rows (± `tolerance`);
- `keys_match`: the `key` column(s) hold the same values on both sides (`direction:
  both`), or every left key is on the right (`left_in_right`);
- `sql`: a SELECT that returns the violating rows; it passes when it returns none (as a
  dbt singular test). Models are named `{{ model('engine:name') }}` and become the
  environment's quoted relation; nothing else is substituted.

`left`/`right` name models as everywhere else (`sqlmesh:intermediate.customer_lifetime`,
`customer_value`). No folder or no file: no checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError
from airflow_provider_dualengine.config.names import Identifier
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document, yaml_files_in

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

CHECKS_FOLDER = "shared/tests"
DOCS = "docs/testing.md"
MODEL_REF = re.compile(r"\{\{\s*model\(\s*'([^'\s]+)'\s*\)\s*\}\}")
ModelName = Annotated[str, StringConstraints(pattern=r"^((sqlmesh|dbt):)?[A-Za-z0-9_.]+$")]
Column = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Check(_Strict):
    name: Identifier
    description: str = ""
    severity: Literal["error", "warning"] = "error"
    # every relation it reads empty fails the check (it would pass comparing nothing), unless allowed
    allow_empty: bool = False

    def models(self) -> list[str]:
        raise NotImplementedError


class _Pair(_Check):
    left: ModelName
    right: ModelName

    def models(self) -> list[str]:
        return [self.left, self.right]


class RowCountMatch(_Pair):
    type: Literal["row_count_match"]
    tolerance: int = Field(default=0, ge=0)


class KeysMatch(_Pair):
    type: Literal["keys_match"]
    key: list[Column] = Field(min_length=1)
    direction: Literal["both", "left_in_right"] = "both"

    @field_validator("key", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class SqlCheck(_Check):
    type: Literal["sql"]
    sql: str = Field(min_length=1)

    @field_validator("sql")
    @classmethod
    def _names_a_model(cls, value: str) -> str:
        if not MODEL_REF.search(value):
            raise ValueError("the query names no model: write tables as {{ model('engine:name') }}")
        return value

    def models(self) -> list[str]:
        return MODEL_REF.findall(self.sql)


CheckSpec = Annotated[RowCountMatch | KeysMatch | SqlCheck, Field(discriminator="type")]


class ChecksFile(_Strict):
    version: Literal[1] = 1
    checks: list[CheckSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class CrossEngineCheck:
    """One check and the file (and key) that defines it."""

    spec: RowCountMatch | KeysMatch | SqlCheck
    file: Path
    key: str


def checks_folder(project: Project) -> Path:
    return project.root / CHECKS_FOLDER


def load_cross_engine_checks(project: Project) -> list[CrossEngineCheck]:
    """Every check of every `shared/tests/*.yml`, in file order. Raises DualEngineConfigError
    naming every problem (file, key, what, fix); a name used twice is one of them."""
    checks: list[CrossEngineCheck] = []
    issues: list[ConfigIssue] = []
    for path in yaml_files_in(checks_folder(project)):
        data, problems = read_yaml(path)
        if problems:
            issues += problems
            continue
        parsed, problems = validate_document(ChecksFile, data, path)
        if parsed is None:
            issues += [_hinted(i) for i in problems]
            continue
        checks += [CrossEngineCheck(spec, path, f"checks[{i}]") for i, spec in enumerate(parsed.checks)]
    seen: dict[str, CrossEngineCheck] = {}
    for check in checks:
        first = seen.setdefault(check.spec.name, check)
        if first is not check:
            issues.append(
                ConfigIssue(
                    check.file,
                    f"{check.key}.name",
                    f"check '{check.spec.name}' is also defined in {first.file.name} ({first.key})",
                    "give each check its own name: it is the test case's name in the JUnit report",
                )
            )
    if issues:
        raise DualEngineConfigError(issues)
    return checks


def _hinted(issue: ConfigIssue) -> ConfigIssue:
    if issue.hint:
        return issue
    return ConfigIssue(issue.file, issue.key, issue.message, f"see {DOCS} for the check types and their keys")
