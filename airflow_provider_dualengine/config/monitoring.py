"""`config/monitoring.yml`: prices, warehouse sizes, shared resources and budgets (optional).

Costs are estimates the project states, not bills the provider reads: no file (or no
prices) means no cost, never an invented price. The cost model itself is in
`monitoring/cost.py`; `docs/monitoring.md` describes the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError, unknown_environment
from airflow_provider_dualengine.config.names import Identifier
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

MONITORING_FILE = "config/monitoring.yml"
ENGINES = ("sqlmesh", "dbt")

EngineName = Literal["sqlmesh", "dbt"]
# "x-small", "large", "XL": warehouse size names as warehouses spell them.
SizeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class SharedResource(BaseModel):
    """A fixed monthly cost both engines use (the seed's `shared_resources`)."""

    model_config = ConfigDict(extra="forbid")

    used_by: list[EngineName] = Field(min_length=1)
    monthly_cost: Money
    cost_allocation: Literal["proportional", "equal"] = "proportional"
    scheduling: str | None = None  # the seed's word ("coordinated"); descriptive, not used by the cost model


class CostSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] = "USD"
    billing: Literal["compute_time", "bytes_scanned"] = "compute_time"
    price_per_hour: dict[SizeName, Money] = Field(default_factory=dict)
    price_per_tb: Money | None = None
    warehouse_size: dict[EngineName, dict[Identifier, SizeName]] = Field(default_factory=dict)
    shared_resources: dict[Identifier, SharedResource] = Field(default_factory=dict)

    def size(self, engine: str, environment: str) -> str | None:
        return self.warehouse_size.get(engine, {}).get(environment)  # type: ignore[call-overload]

    @property
    def execution_priced(self) -> bool:
        """Whether any model execution can get a price at all."""
        if self.billing == "bytes_scanned":
            return self.price_per_tb is not None
        return bool(self.price_per_hour) and any(self.warehouse_size.values())

    @property
    def configured(self) -> bool:
        return self.execution_priced or bool(self.shared_resources)


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly: Money | None = None
    per_engine: dict[EngineName, Money] = Field(default_factory=dict)


class NotifierSpec(BaseModel):
    """An Airflow notifier an alert action names: any BaseNotifier (Slack, SMTP, ... from
    their providers; the provider's WebhookNotifier), built with `args` when alerts fire."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")] = Field(alias="class")
    args: dict[str, Any] = Field(default_factory=dict)


class AlertingSettings(BaseModel):
    """How alerts are delivered: `cooldown_s` keeps a rule quiet about the same subject
    (a model, an edge) after it fired; executions shorter than `min_execution_s` never
    count as a performance degradation (doubling 0.03 s is noise, not a regression)."""

    model_config = ConfigDict(extra="forbid")

    cooldown_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 3600.0
    min_execution_s: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0


class MonitoringSpec(BaseModel):
    """The whole file; every part optional."""

    model_config = ConfigDict(extra="forbid")

    cost: CostSettings = Field(default_factory=CostSettings)
    budgets: Budgets = Field(default_factory=Budgets)
    # Alert rules are checked by the alerting module (monitoring/alert_rules.py), which
    # knows the condition language: kept here as the mappings written.
    alerts: list[dict[str, Any]] = Field(default_factory=list)
    notifiers: dict[Identifier, NotifierSpec] = Field(default_factory=dict)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)


def monitoring_file(project: Project) -> Path:
    """Where the project's monitoring.yml is (`config/` next to the other config files)."""
    explicit = project.files.get("monitoring")
    return explicit if explicit is not None else (project.root / MONITORING_FILE).resolve()


def load_monitoring(project: Project) -> MonitoringSpec:
    """The project's monitoring settings; defaults (nothing priced) without the file.
    Warehouse sizes come from config/resources.yml too (where the seed puts them); a size
    given in both files differently is an error. Raises DualEngineConfigError naming every problem."""
    from airflow_provider_dualengine.config.resources import load_resources, resources_file

    path = monitoring_file(project)
    spec = read_monitoring(path, set(project.environments)) if path.exists() else MonitoringSpec()
    allocation = load_resources(project).resource_allocation
    sizes = {e: dict(spec.cost.warehouse_size.get(e, {})) for e in ENGINES}  # type: ignore[call-overload]
    issues = []
    for engine in ENGINES:
        for environment, res in getattr(allocation, f"{engine}_resources").items():
            if res.warehouse_size is None:
                continue
            declared = sizes[engine].get(environment)
            if declared is not None and declared != res.warehouse_size:
                issues.append(
                    ConfigIssue(
                        path,
                        f"cost.warehouse_size.{engine}.{environment}",
                        f"'{declared}' here, but '{res.warehouse_size}' in {resources_file(project)}",
                        "give the size in one file: resources.yml (resource_allocation) is where it belongs",
                    )
                )
            sizes[engine][environment] = res.warehouse_size
    for name, shared in allocation.shared_resources.items():
        priced = spec.cost.shared_resources.get(name)
        if priced is not None and (priced.cost_allocation, sorted(priced.used_by)) != (
            shared.cost_allocation,
            sorted(shared.used_by),
        ):
            issues.append(
                ConfigIssue(
                    path,
                    f"cost.shared_resources.{name}",
                    f"used_by/cost_allocation differ from shared_resources.{name} in {resources_file(project)}",
                    "make them the same (or keep only monthly_cost here)",
                )
            )
    if issues:
        raise DualEngineConfigError(issues)
    if sizes == spec.cost.warehouse_size or not any(sizes.values()):
        return spec
    cost = spec.cost.model_copy(update={"warehouse_size": {e: v for e, v in sizes.items() if v}})
    if cost.billing == "compute_time":
        missing = [
            ConfigIssue(
                path,
                "cost.price_per_hour",
                f"warehouse size '{size}' ({engine}, {environment}, from resources.yml) has no price",
                f"add `{size}: <{cost.currency} per compute-hour>` under cost.price_per_hour",
            )
            for engine, by_env in sizes.items()
            for environment, size in by_env.items()
            if cost.price_per_hour and size not in cost.price_per_hour
        ]
        if missing:
            raise DualEngineConfigError(missing)
    return spec.model_copy(update={"cost": cost})


def read_monitoring(path: Path, environments: set[str] | None = None) -> MonitoringSpec:
    """Read and check one monitoring.yml (`environments`: the names a warehouse size may use)."""
    data, issues = read_yaml(path)
    if issues:
        raise DualEngineConfigError(issues)
    if data is None:  # only comments: the defaults
        return MonitoringSpec()
    spec, issues = validate_document(MonitoringSpec, data, path)
    if spec is None:
        raise DualEngineConfigError([_with_hint(i) for i in issues])
    issues = check_monitoring(spec, path, environments)
    if issues:
        raise DualEngineConfigError(issues)
    return spec


def check_monitoring(spec: MonitoringSpec, path: Path, environments: set[str] | None = None) -> list[ConfigIssue]:
    """What the schema cannot say: sizes without a price, unknown environments, a billing
    mode without its price."""
    cost, issues = spec.cost, []
    priced = ", ".join(sorted(cost.price_per_hour)) or "none"
    for engine, sizes in cost.warehouse_size.items():
        for environment, size in sizes.items():
            key = f"cost.warehouse_size.{engine}.{environment}"
            if environments is not None and environment not in environments:
                issues.append(unknown_environment(path, key, environment, environments))
            if cost.billing == "compute_time" and size not in cost.price_per_hour:
                issues.append(
                    ConfigIssue(
                        path,
                        key,
                        f"warehouse size '{size}' has no price in cost.price_per_hour (sizes priced: {priced})",
                        f"add `{size}: <{cost.currency} per compute-hour>` under cost.price_per_hour, or use a priced size",
                    )
                )
    if cost.billing == "bytes_scanned" and cost.price_per_tb is None:
        issues.append(
            ConfigIssue(
                path,
                "cost.price_per_tb",
                "billing is bytes_scanned but no price per TB is set",
                f"add `price_per_tb: <{cost.currency} per TB scanned>` under cost, or use billing: compute_time",
            )
        )
    for name, resource in cost.shared_resources.items():
        if len(set(resource.used_by)) != len(resource.used_by):
            issues.append(
                ConfigIssue(
                    path,
                    f"cost.shared_resources.{name}.used_by",
                    "an engine is listed twice",
                    "list each engine once: [sqlmesh, dbt]",
                )
            )
    return issues


def _with_hint(issue: ConfigIssue) -> ConfigIssue:
    """Hints for this file's schema errors where validate_document's generic ones would
    mislead (prices, engine names, size names, the currency)."""
    key = issue.key.replace(".[key]", "")
    last = key.rsplit(".", 1)[-1]
    if "greater than or equal to 0" in issue.message or "finite number" in issue.message:
        hint = "use an amount of 0 or more (in the file's currency)"
    elif "'sqlmesh' or 'dbt'" in issue.message:
        hint = "name an engine: sqlmesh or dbt"
    elif last == "currency":
        hint = "use a three-letter currency code, e.g. USD or EUR"
    elif "should match pattern" in issue.message and key.startswith("cost.warehouse_size.") and ".[key]" in issue.key:
        hint = "name an environment of the project (letters, digits and underscores)"
    elif "should match pattern" in issue.message and ("price_per_hour" in key or "warehouse_size" in key):
        hint = "name a warehouse size with letters, digits, '-' and '_' (e.g. x-small)"
    else:
        hint = issue.hint
    return ConfigIssue(issue.file, key, issue.message, hint)
