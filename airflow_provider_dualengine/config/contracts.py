"""Data contracts between engines (`shared/schemas/*.yml`: producer, consumers, schema, quality rules, SLA).

A contract promises consumers a producer model's columns, types and constraints, plus a
freshness SLA. This module only reads and validates the files; checking them against the
engines (statically) and the warehouse (at run time) lives in `airflow_provider_dualengine.contracts`.

    version: 2
    models:
      - name: staging.customer_enhanced
        columns:
          - name: customer_id
            data_type: integer
            constraints: [{type: not_null}, {type: unique}]
          - name: customer_score
            data_type: double
            constraints:
              - type: check
                expression: "customer_score >= 0 AND customer_score <= 100"
        producer: sqlmesh
        consumers: [dbt]
        sla: {freshness: "< 1 hour", availability: "99.9%"}
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_provider_dualengine.config.errors import ConfigIssue
from airflow_provider_dualengine.config.names import Identifier, ModelName
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document, yaml_files_in

CONTRACT_DIALECT = "duckdb"  # how `data_type` and `check` expressions are read (sqlglot dialect)

_FRESHNESS = re.compile(r"^\s*(<=?)?\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week)s?\s*$", re.IGNORECASE)
_AVAILABILITY = re.compile(r"^\s*(\d{1,3}(?:\.\d+)?)\s*%\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotNull(_Strict):
    type: Literal["not_null"]


class Unique(_Strict):
    type: Literal["unique"]


class AcceptedValues(_Strict):
    type: Literal["accepted_values"]
    values: list[str | int | float] = Field(min_length=1)


class Check(_Strict):
    type: Literal["check"]
    expression: str

    @field_validator("expression")
    @classmethod
    def _predicate(cls, value: str) -> str:
        parse_check_expression(value)
        return value


Constraint = Annotated[NotNull | Unique | AcceptedValues | Check, Field(discriminator="type")]


class ContractColumn(_Strict):
    name: Identifier
    data_type: str
    description: str | None = None
    constraints: list[Constraint] = Field(default_factory=list)
    deprecated: bool = False  # still delivered, consumers should stop reading it

    @field_validator("data_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parse_data_type(value)
        return value

    def has(self, kind: str) -> bool:
        return any(c.type == kind for c in self.constraints)


class Sla(_Strict):
    freshness: str | None = None  # "< 1 hour", "<= 30 minutes", "2 days"
    availability: str | None = None  # "99.9%" (recorded, not enforced)
    # Timestamp column whose newest value dates the data; else the producer's last write
    # (SQLMesh state, dbt build, Asset event).
    freshness_column: Identifier | None = None

    @field_validator("freshness")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_freshness(value)
        return value

    @field_validator("availability")
    @classmethod
    def _percent(cls, value: str | None) -> str | None:
        if value is not None:
            match = _AVAILABILITY.match(value)
            if not match or float(match.group(1)) > 100:
                raise ValueError(f"availability '{value}' is not a percentage like '99.9%'")
        return value

    @property
    def max_age(self) -> timedelta | None:
        return parse_freshness(self.freshness) if self.freshness else None


class ContractModel(_Strict):
    name: ModelName
    description: str | None = None
    columns: list[ContractColumn] = Field(min_length=1)
    producer: Literal["sqlmesh", "dbt"]
    consumers: list[str] = Field(default_factory=list)
    sla: Sla | None = None
    # Closed: consumers may read only the promised columns (reading another is an error,
    # not a warning, in the static check).
    closed: bool = False

    @model_validator(mode="after")
    def _unique_columns(self) -> ContractModel:
        seen: set[str] = set()
        for column in self.columns:
            if column.name.lower() in seen:
                raise ValueError(f"column '{column.name}' is listed twice")
            seen.add(column.name.lower())
        return self

    def column(self, name: str) -> ContractColumn | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)


class ContractFile(_Strict):
    version: int | str
    models: list[ContractModel] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _semver(cls, value: int | str) -> int | str:
        if not re.match(r"^\d+(\.\d+){0,2}$", str(value)):
            raise ValueError(f"version '{value}' is not a number like 2 or 2.1")
        return value

    @property
    def major(self) -> int:
        return int(str(self.version).split(".")[0])


class Contract(BaseModel):
    """One contracted model with the file (and file version) it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    file: Path
    index: int  # position under `models:`, for key paths in messages
    version: int | str
    model: ContractModel

    @property
    def major(self) -> int:
        return int(str(self.version).split(".")[0])

    def key(self, *parts: str) -> str:
        return ".".join([f"models[{self.index}]", *parts])


def parse_data_type(text: str) -> Any:
    """sqlglot DataType of a contract type; ValueError naming the type if it is not one."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        dtype = exp.DataType.build(text, dialect=CONTRACT_DIALECT, udt=False)
    except (ParseError, ValueError):
        raise ValueError(
            f"data_type '{text}' is not a SQL type (e.g. integer, bigint, double, text, date, timestamp, decimal(18, 2))"
        ) from None
    if dtype.this == exp.DataType.Type.USERDEFINED:
        raise ValueError(
            f"data_type '{text}' is not a SQL type (e.g. integer, bigint, double, text, date, timestamp, decimal(18, 2))"
        )
    return dtype


def parse_check_expression(text: str) -> Any:
    """A `check` is one boolean SQL expression over the model's columns: no statements,
    no subqueries, so running it can only read the contracted table."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        parsed = sqlglot.parse(text, dialect=CONTRACT_DIALECT)
    except ParseError as exc:
        raise ValueError(f"check expression is not valid SQL: {str(exc).splitlines()[0]}") from None
    if len(parsed) != 1 or parsed[0] is None:
        raise ValueError("check expression must be a single SQL expression")
    expression = parsed[0]
    if isinstance(expression, (exp.Query, exp.Command, exp.DDL, exp.DML)) or expression.find(
        exp.Query, exp.Command, exp.DDL, exp.DML
    ):
        raise ValueError("check expression must be a condition on the model's columns, not a statement or subquery")
    return expression


def parse_freshness(text: str) -> timedelta:
    match = _FRESHNESS.match(text)
    if not match:
        raise ValueError(f"freshness '{text}' is not a duration like '< 1 hour', '<= 30 minutes' or '2 days'")
    amount, unit = float(match.group(2)), match.group(3).lower()
    return timedelta(**{f"{unit}s": amount})


_HINTS = {
    "union_tag_invalid": "constraint types are not_null, unique, accepted_values (with values) and check (with expression)",
    "union_tag_not_found": "give each constraint a type: not_null, unique, accepted_values or check",
}


def load_contract_file(path: Path) -> tuple[list[Contract], list[ConfigIssue]]:
    data, issues = read_yaml(path)
    if issues:
        return [], issues
    parsed, issues = validate_document(ContractFile, data, path)
    if parsed is None:
        return [], [ConfigIssue(i.file, i.key, i.message, _HINTS.get(_error_type(i.message), i.hint)) for i in issues]
    return [Contract(file=path, index=n, version=parsed.version, model=m) for n, m in enumerate(parsed.models)], []


def _error_type(message: str) -> str:
    if "does not match any of the expected tags" in message:
        return "union_tag_invalid"
    if "Unable to extract tag" in message:
        return "union_tag_not_found"
    return ""


def load_contracts(folder: Path) -> tuple[list[Contract], list[ConfigIssue]]:
    """Every contract under `folder` (*.yml, *.yaml); a model contracted twice is an error."""
    contracts: list[Contract] = []
    issues: list[ConfigIssue] = []
    for path in yaml_files_in(folder):
        found, problems = load_contract_file(path)
        contracts.extend(found)
        issues.extend(problems)
    seen: dict[str, Contract] = {}
    for contract in contracts:
        first = seen.setdefault(contract.model.name, contract)
        if first is not contract:
            issues.append(
                ConfigIssue(
                    contract.file,
                    contract.key("name"),
                    f"model '{contract.model.name}' already has a contract in {first.file.name}",
                    "keep one contract per model",
                )
            )
    return contracts, issues
