"""`config/resources.yml`: what each engine may use of the warehouse, and when (optional).

The seed's `resource_allocation` (per engine and environment: warehouse size, auto
suspend, concurrent queries, dbt threads; shared resources) and `execution_schedule`
(peak and off-peak windows with their rules). Every setting maps to a knob that exists
(docs/resources.md says which); the effective allocation at a moment is computed in
`resources/allocation.py`. No file: nothing is limited beyond DuckDB's one writer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError, unknown_environment
from airflow_provider_dualengine.config.names import Identifier
from airflow_provider_dualengine.config.yaml_files import read_yaml, validate_document

if TYPE_CHECKING:
    from airflow_provider_dualengine.config.project import Project

RESOURCES_FILE = "config/resources.yml"
ENGINES = ("sqlmesh", "dbt")
DAY_S = 24 * 3600

EngineName = Literal["sqlmesh", "dbt"]
SizeName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
# Session settings the warehouses really have; values are checked by the warehouse itself
# when a session starts, names here (a typo would otherwise be ignored or be SQL).
SESSION_SETTINGS: dict[str, dict[str, type]] = {
    "duckdb": {"threads": int, "memory_limit": str},
    "postgres": {"work_mem": str, "statement_timeout": str},
}
Execution = Literal["full", "limited", "maintenance_only"]
_SETTING_VALUE = re.compile(r"^[A-Za-z0-9 ._-]+$")


class EngineResources(BaseModel):
    """One engine in one environment (the seed's `sqlmesh_resources.<env>` / `dbt_resources.<env>`)."""

    model_config = ConfigDict(extra="forbid")

    warehouse_size: SizeName | None = None  # priced by monitoring.yml; a Snowflake warehouse's size
    auto_suspend: Annotated[int, Field(ge=0)] | None = None  # seconds; a Snowflake warehouse setting
    # Slots of the engine's Airflow pool: how many of its tasks query the warehouse at once.
    max_concurrent_queries: Annotated[int, Field(ge=1, le=1024)] | None = None
    threads: Annotated[int, Field(ge=1, le=256)] | None = None  # dbt threads (the profile Cosmos builds)
    concurrent_tasks: Annotated[int, Field(ge=1, le=256)] | None = None  # SQLMesh's gateway concurrent_tasks
    session: dict[str, int | str] = Field(default_factory=dict)  # warehouse session settings

    @field_validator("session")
    @classmethod
    def _safe_values(cls, value: dict[str, int | str]) -> dict[str, int | str]:
        for key, setting in value.items():
            if isinstance(setting, str) and not _SETTING_VALUE.match(setting):
                raise ValueError(
                    f"session.{key}: '{setting}' is not a plain value (letters, digits, spaces, '.', '_', '-')"
                )
        return value


class SharedResource(BaseModel):
    """A warehouse both engines use. `coordinated`: its slots are split between the engines
    by the execution window's `resource_allocation`."""

    model_config = ConfigDict(extra="forbid")

    used_by: list[EngineName] = Field(min_length=1)
    scheduling: Literal["coordinated", "independent"] = "coordinated"
    cost_allocation: Literal["proportional", "equal"] = "proportional"
    max_concurrent_queries: Annotated[int, Field(ge=1, le=1024)] | None = None  # the warehouse's slots


class ResourceAllocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sqlmesh_resources: dict[Identifier, EngineResources] = Field(default_factory=dict)
    dbt_resources: dict[Identifier, EngineResources] = Field(default_factory=dict)
    shared_resources: dict[Identifier, SharedResource] = Field(default_factory=dict)

    def engine(self, engine: str, environment: str) -> EngineResources | None:
        return (self.sqlmesh_resources if engine == "sqlmesh" else self.dbt_resources).get(environment)

    def coordinated(self) -> SharedResource | None:
        """The shared warehouse whose slots windows divide between both engines."""
        return next(
            (
                r
                for r in self.shared_resources.values()
                if r.scheduling == "coordinated" and set(r.used_by) == {*ENGINES}
            ),
            None,
        )


_TIME = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)
_SHARE = re.compile(r"^\s*(\d{1,3})\s*%\s*(sqlmesh|dbt)\s*$", re.IGNORECASE)


def parse_time_of_day(text: str) -> int:
    """Seconds after midnight of "8am", "6pm", "18:00", "07:30:15" or "24:00" (the end of a day)."""
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a time of day (write 8am, 6pm, 18:00 or 18:00:30)")
    hour, minute, second, half = int(match[1]), int(match[2] or 0), int(match[3] or 0), (match[4] or "").lower()
    if half:
        if not 1 <= hour <= 12 or match[3]:
            raise ValueError(f"'{text}': with am/pm the hour is 1-12 (e.g. 12am is midnight, 6pm is 18:00)")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if minute > 59 or second > 59 or hour > 24 or (hour == 24 and (minute or second)):
        raise ValueError(f"'{text}' is not a time of day (hours 0-24, minutes and seconds 0-59)")
    return hour * 3600 + minute * 60 + second


def parse_range(text: str) -> tuple[int, int]:
    """(start, end) seconds of "8am-6pm"; the end may be earlier than the start (crosses midnight)."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"'{text}' is not a range: write start-end, e.g. 8am-6pm or 18:00-08:00")
    start, end = parse_time_of_day(parts[0]), parse_time_of_day(parts[1])
    if start == DAY_S:
        start = 0
    if start == end % DAY_S and not (start == 0 and end == DAY_S):
        raise ValueError(f"'{text}' starts where it ends: a window needs a length (the whole day is 00:00-24:00)")
    return start, end % DAY_S if end != DAY_S else DAY_S


def parse_shares(text: str) -> dict[str, int]:
    """{"dbt": 70, "sqlmesh": 30} of "70% dbt, 30% sqlmesh" (together 100%)."""
    shares: dict[str, int] = {}
    for part in text.split(","):
        match = _SHARE.match(part)
        if not match:
            raise ValueError(f"'{part.strip()}' is not a share: write e.g. '70% dbt, 30% sqlmesh'")
        engine = match[2].lower()
        if engine in shares:
            raise ValueError(f"{engine} is given two shares")
        shares[engine] = int(match[1])
    if sum(shares.values()) != 100:
        raise ValueError(f"the shares add up to {sum(shares.values())}%, not 100%")
    return shares


class WindowRules(BaseModel):
    """What a window means for each engine (docs/resources.md defines each word)."""

    model_config = ConfigDict(extra="forbid")

    priority: Literal["sqlmesh_models", "dbt_models"] | None = None
    sqlmesh_execution: Execution = "full"
    dbt_execution: Execution = "full"
    resource_allocation: str | None = None  # "70% dbt, 30% sqlmesh"

    @field_validator("resource_allocation")
    @classmethod
    def _shares(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shares(value)
        return value

    @model_validator(mode="after")
    def _someone_runs(self) -> WindowRules:
        if self.sqlmesh_execution == "maintenance_only" and self.dbt_execution == "maintenance_only":
            raise ValueError("both engines are maintenance_only: scheduled runs would never run in this window")
        if self.priority_engine and self.execution(self.priority_engine) == "limited":
            raise ValueError(
                f"{self.priority} has priority but {self.priority_engine}_execution is limited (a limited engine never has priority)"
            )
        return self

    def execution(self, engine: str) -> str:
        return self.sqlmesh_execution if engine == "sqlmesh" else self.dbt_execution

    def shares(self) -> dict[str, int]:
        return parse_shares(self.resource_allocation) if self.resource_allocation else {}

    @property
    def priority_engine(self) -> str | None:
        return self.priority.removesuffix("_models") if self.priority else None


@dataclass(frozen=True)
class Window:
    name: str  # "peak_hours"
    start_s: int  # seconds after midnight, window time zone
    end_s: int  # may be <= start_s: the window crosses midnight
    rules: WindowRules

    def contains(self, second_of_day: int) -> bool:
        if self.start_s < self.end_s:
            return self.start_s <= second_of_day < self.end_s
        return second_of_day >= self.start_s or second_of_day < self.end_s

    @property
    def length_s(self) -> int:
        return (self.end_s - self.start_s) % DAY_S or DAY_S


class ExecutionSchedule(BaseModel):
    """`execution_schedule`: named windows (`<name>_hours: "8am-6pm"`) covering the day
    exactly once, in `timezone`, each with its `scheduling_rules`."""

    model_config = ConfigDict(extra="allow")

    timezone: str = "UTC"
    scheduling_rules: dict[str, WindowRules] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        import pendulum

        try:
            pendulum.timezone(value)
        except Exception:
            raise ValueError(f"unknown time zone '{value}' (use an IANA name such as Europe/Berlin or UTC)") from None
        return value

    @model_validator(mode="after")
    def _windows_cover_the_day(self) -> ExecutionSchedule:
        extra = dict(self.model_extra or {})
        for key, value in extra.items():
            if not key.endswith("_hours"):
                raise ValueError(f"unknown key '{key}': windows are named <name>_hours (peak_hours, off_peak_hours)")
            if not isinstance(value, str):
                raise ValueError(f'{key}: write the window as a range string, e.g. "8am-6pm"')
            try:
                parse_range(value)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        if not extra:
            raise ValueError('no window: add e.g. peak_hours: "8am-6pm" and off_peak_hours: "6pm-8am"')
        for name in self.scheduling_rules:
            if name not in extra:
                raise ValueError(f"scheduling_rules.{name} names no window (windows: {', '.join(sorted(extra))})")
        for engine in ENGINES:
            if all(w.rules.execution(engine) == "maintenance_only" for w in self.windows()):
                raise ValueError(
                    f"{engine} is maintenance_only in every window: its scheduled work would wait forever "
                    f"(give it full or limited in at least one window)"
                )
        covered = sorted(self.windows(), key=lambda w: w.start_s)
        total = sum(w.length_s for w in covered)
        for window, following in zip(covered, [*covered[1:], covered[0]], strict=True):
            if len(covered) > 1 and window.end_s % DAY_S != following.start_s:
                what = "overlaps" if total > DAY_S or _overlaps(window, following) else "leaves a gap before"
                raise ValueError(
                    f"{window.name} ({_hhmm(window.start_s)}-{_hhmm(window.end_s)}) {what} "
                    f"{following.name} ({_hhmm(following.start_s)}-{_hhmm(following.end_s)}): "
                    "windows must cover the day exactly once"
                )
        if total != DAY_S:
            raise ValueError(f"the windows cover {total / 3600:g} hours, not 24: they must cover the day exactly once")
        return self

    def windows(self) -> list[Window]:
        return [
            Window(name, *parse_range(value), self.scheduling_rules.get(name, WindowRules()))
            for name, value in (self.model_extra or {}).items()
        ]

    def window_at(self, moment: Any) -> Window:
        """The window `moment` (an aware datetime) falls in, in the schedule's time zone."""
        local = moment.astimezone(_zone(self.timezone))
        second = local.hour * 3600 + local.minute * 60 + local.second
        return next(w for w in self.windows() if w.contains(second))

    def next_boundary(self, moment: Any) -> Any:
        """The first window start after `moment` (aware), in the schedule's time zone."""
        return next_window_start(moment, self.timezone, [w.start_s for w in self.windows()])


def next_window_start(moment: Any, timezone: str, starts: list[int]) -> Any:
    """The first of the local clock times `starts` (seconds after midnight) after `moment`,
    as an aware time in `timezone`. Built as wall-clock times, so a DST change day keeps
    08:00 at 08:00 (adding seconds to midnight would give 07:00 or 09:00); a start inside
    a spring-forward gap moves to the first existing time after it."""
    import pendulum

    local = pendulum.instance(moment).in_timezone(timezone)
    for day in range(3):
        base = local.start_of("day").add(days=day)
        for start in sorted(starts):
            h, rest = divmod(start, 3600)
            moment_ = pendulum.datetime(base.year, base.month, base.day, h, rest // 60, rest % 60, tz=timezone)
            if moment_ > local:
                return moment_
    raise ValueError("no window start within three days")  # unreachable: a schedule has a window


def _zone(name: str) -> Any:
    import pendulum

    return pendulum.timezone(name)


def _overlaps(a: Window, b: Window) -> bool:
    return any(b.contains(s) for s in (a.start_s, (a.end_s - 1) % DAY_S)) or any(
        a.contains(s) for s in (b.start_s, (b.end_s - 1) % DAY_S)
    )


def _hhmm(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


class ResourcesSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_allocation: ResourceAllocation = Field(default_factory=ResourceAllocation)
    execution_schedule: ExecutionSchedule | None = None


def resources_file(project: Project) -> Path:
    explicit = project.files.get("resources")
    return explicit if explicit is not None else (project.root / RESOURCES_FILE).resolve()


def load_resources(project: Project) -> ResourcesSpec:
    """The project's resources; defaults (nothing limited) without the file. Raises
    DualEngineConfigError naming every problem (file, key, what, fix)."""
    path = resources_file(project)
    if not path.exists():
        return ResourcesSpec()
    return read_resources(path, set(project.environments), project.settings.warehouse.type)


def read_resources(path: Path, environments: set[str] | None = None, warehouse: str = "duckdb") -> ResourcesSpec:
    data, issues = read_yaml(path)
    if issues:
        raise DualEngineConfigError(issues)
    if data is None:
        return ResourcesSpec()
    spec, issues = validate_document(ResourcesSpec, data, path)
    if spec is None:
        raise DualEngineConfigError([_with_hint(i) for i in issues])
    issues = check_resources(spec, path, environments, warehouse)
    if issues:
        raise DualEngineConfigError(issues)
    return spec


def _with_hint(issue: ConfigIssue) -> ConfigIssue:
    """Schema errors of this file point at the section of docs/resources.md that defines the key."""
    if issue.hint:
        return issue
    section = (
        "execution-windows"
        if issue.key.startswith("execution_schedule")
        else "what-each-setting-does-the-real-knob-behind-it"
    )
    return ConfigIssue(issue.file, issue.key, issue.message, f"see docs/resources.md#{section}")


def check_resources(
    spec: ResourcesSpec, path: Path, environments: set[str] | None, warehouse: str
) -> list[ConfigIssue]:
    """What the schema cannot say: environments the project has, session settings the
    warehouse has, settings that belong to the other engine, shares for shared warehouses."""
    issues: list[ConfigIssue] = []
    allowed = SESSION_SETTINGS.get(warehouse, {})
    alloc = spec.resource_allocation
    for engine in ENGINES:
        for environment, res in getattr(alloc, f"{engine}_resources").items():
            key = f"resource_allocation.{engine}_resources.{environment}"
            if environments is not None and environment not in environments:
                issues.append(unknown_environment(path, key, environment, environments))
            wrong = "threads" if engine == "sqlmesh" else "concurrent_tasks"
            if getattr(res, wrong) is not None:
                right = "concurrent_tasks" if engine == "sqlmesh" else "threads"
                issues.append(
                    ConfigIssue(
                        path, f"{key}.{wrong}", f"{wrong} is not a {engine} setting", f"use {right} for {engine}"
                    )
                )
            if engine == "sqlmesh" and warehouse == "duckdb" and (res.concurrent_tasks or 1) > 1:
                issues.append(
                    ConfigIssue(
                        path,
                        f"{key}.concurrent_tasks",
                        "SQLMesh on a DuckDB file here evaluates one model at a time: its threads would share the "
                        "task's one connection to the file, and plans fail (DuckDB parser errors, measured)",
                        "remove it (or set 1); DuckDB's own parallelism is session.threads",
                    )
                )
            for name, value in res.session.items():
                if name not in allowed:
                    issues.append(
                        ConfigIssue(
                            path,
                            f"{key}.session.{name}",
                            f"'{name}' is not a session setting this provider applies on {warehouse}",
                            f"use one of: {', '.join(allowed) or 'none'} (docs/resources.md)",
                        )
                    )
                elif not isinstance(value, allowed[name]):
                    issues.append(
                        ConfigIssue(
                            path,
                            f"{key}.session.{name}",
                            f"'{value}' is not a valid {name}",
                            "a whole number of threads" if allowed[name] is int else "a value such as 1GB or 30s",
                        )
                    )
    for name, shared in alloc.shared_resources.items():
        if len(set(shared.used_by)) != len(shared.used_by):
            issues.append(
                ConfigIssue(
                    path,
                    f"resource_allocation.shared_resources.{name}.used_by",
                    "an engine is listed twice",
                    "list each engine once: [sqlmesh, dbt]",
                )
            )
    schedule = spec.execution_schedule
    if schedule is not None:
        for window in schedule.windows():
            shares = window.rules.shares()
            if shares and set(shares) != {*ENGINES}:
                issues.append(
                    ConfigIssue(
                        path,
                        f"execution_schedule.scheduling_rules.{window.name}.resource_allocation",
                        "a share for each engine is needed",
                        "write e.g. '70% dbt, 30% sqlmesh'",
                    )
                )
            if any(v == 0 for v in shares.values()):
                issues.append(
                    ConfigIssue(
                        path,
                        f"execution_schedule.scheduling_rules.{window.name}.resource_allocation",
                        "a 0% share would stop that engine even for deployments",
                        "give it at least one slot's share, or make it maintenance_only",
                    )
                )
    return issues
