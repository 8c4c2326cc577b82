"""Alert rules of `config/monitoring.yml`, in the seed's shape, checked when loaded.

    alerts:
      - name: performance_degradation
        condition: "avg_execution_time > 2 * baseline"
        severity: medium
        actions: [notify_team]

A condition is either a comparison, `<metric> <op> <threshold>`, where the threshold is a
number with the metric's unit (`1 hour`, `90 seconds`, `95%`, `250` in the cost currency)
or `<factor> * baseline` for metrics that have a baseline; or an event that happened in the
evaluated runs (`deployment_failed`, `contract_failed`, ...). Every word is checked at load:
a misspelt metric, a unit that does not fit it, a baseline on a metric without one, or an
action no notifier answers is an error naming the file and key, so no rule silently never
fires. The metrics and their baselines are defined in docs/monitoring.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_dualengine.config.errors import ConfigIssue, DualEngineConfigError

# metric -> (unit kind, has a baseline)
METRICS: dict[str, tuple[str, bool]] = {
    "dependency_lag": ("duration", False),  # producer model ended -> consumer in the other engine started
    "avg_execution_time": ("duration", True),  # a model's execution seconds vs its own baseline
    "daily_cost": ("money", True),  # the day's cost vs the median of earlier days
    "monthly_cost": ("money", False),
    "budget_variance": ("percent", False),  # month to date vs the monthly budget, in %
    "error_rate": ("percent", False),  # per engine
    "data_quality_score": ("percent", False),
    "sla_compliance": ("percent", False),
    "deployment_success_rate": ("percent", False),
}
EVENTS = ("deployment_failed", "deployment_rolled_back", "contract_failed", "sla_missed", "model_failed")
SEVERITIES = ("low", "medium", "high", "critical")
OPERATORS = (">=", "<=", ">", "<")
_DURATION_UNITS = {"s": 1, "sec": 1, "second": 1, "minute": 60, "min": 60, "hour": 3600, "h": 3600, "day": 86400}
# Words of the seed that ask for something Airflow already does, or does not exist here.
REFUSED_ACTIONS = {
    "auto_retry": "Airflow retries failed tasks itself (every task of our DAGs has retries=2 with backoff, "
    "transient warehouse errors only); an alert cannot retry anything: remove `auto_retry` and set "
    "`retries` in the DAG's default_args if you want more",
}
_COMPARISON = re.compile(
    r"^\s*(?P<metric>[a-z_]+)\s*(?P<op>>=|<=|>|<)\s*"
    r"(?:(?P<factor>\d+(?:\.\d+)?)\s*\*\s*baseline|(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%|[A-Za-z]+)?)\s*$"
)


@dataclass(frozen=True)
class Condition:
    """A parsed condition: an event, or `metric op threshold` (seconds, %, or money), or
    `metric op factor * baseline`."""

    text: str
    event: str | None = None
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    baseline_factor: float | None = None

    def holds(self, value: float, baseline: float | None = None) -> bool:
        """Whether `value` breaks the rule (False when a baseline is needed but unknown)."""
        if self.baseline_factor is not None:
            if baseline is None:
                return False
            limit = self.baseline_factor * baseline
        else:
            limit = float(self.threshold or 0.0)
        return {">": value > limit, ">=": value >= limit, "<": value < limit, "<=": value <= limit}[self.op or ">"]


@dataclass(frozen=True)
class AlertRule:
    name: str
    condition: Condition
    severity: str
    actions: tuple[str, ...]


class ConditionError(ValueError):
    """The condition text is not in the rule language; the message says what is expected."""


def parse_condition(text: str) -> Condition:
    word = text.strip()
    if word in EVENTS:
        return Condition(text=word, event=word)
    found = _COMPARISON.match(word)
    if not found:
        raise ConditionError(
            f"'{text}' is not a condition: write '<metric> <op> <threshold>' (e.g. 'dependency_lag > 1 hour',"
            f" 'avg_execution_time > 2 * baseline') or an event ({', '.join(EVENTS)})"
        )
    metric = found["metric"]
    if metric not in METRICS:
        raise ConditionError(f"unknown metric '{metric}' in '{text}': use one of {', '.join(sorted(METRICS))}")
    kind, has_baseline = METRICS[metric]
    if found["factor"] is not None:
        if not has_baseline:
            with_baseline = ", ".join(m for m, (_, b) in METRICS.items() if b)
            raise ConditionError(
                f"'{metric}' has no baseline (only {with_baseline} do): compare it with a number instead"
            )
        return Condition(text=word, metric=metric, op=found["op"], baseline_factor=float(found["factor"]))
    return Condition(
        text=word, metric=metric, op=found["op"], threshold=_threshold(metric, kind, found["value"], found["unit"])
    )


def _threshold(metric: str, kind: str, value: str, unit: str | None) -> float:
    number = float(value)
    if kind == "duration":
        if unit is None:
            raise ConditionError(f"'{metric}' is a duration: give a unit (seconds, minutes, hours, days)")
        word = unit.lower()
        seconds = _DURATION_UNITS.get(word if word == "s" else word.removesuffix("s"))
        if seconds is None:
            raise ConditionError(f"'{unit}' is not a duration unit for '{metric}': use seconds, minutes, hours or days")
        return number * seconds
    if kind == "percent":
        if unit not in (None, "%"):
            raise ConditionError(f"'{metric}' is a percentage: write e.g. '95%', not '{value} {unit}'")
        if not 0 <= number <= 100:
            raise ConditionError(f"'{metric}' is a percentage between 0 and 100, not {value}")
        return number
    if unit is not None:
        raise ConditionError(
            f"'{metric}' is an amount in the cost currency: write a plain number, not '{value} {unit}'"
        )
    return number


def load_rules(raw: Any, notifiers: set[str], file: Path | None, key: str = "alerts") -> list[AlertRule]:
    """The validated rules; DualEngineConfigError with every problem (file, key, what, fix)."""
    issues: list[ConfigIssue] = []
    rules: list[AlertRule] = []
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DualEngineConfigError([ConfigIssue(file, key, "must be a list of alert rules", "see docs/monitoring.md")])
    names: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            issues.append(
                ConfigIssue(file, where, "an alert rule is a mapping", "give name, condition, severity, actions")
            )
            continue
        unknown = sorted(set(entry) - {"name", "condition", "severity", "actions"})
        if unknown:
            issues.append(
                ConfigIssue(
                    file,
                    f"{where}.{unknown[0]}",
                    "is not a key of an alert rule",
                    "use name, condition, severity, actions",
                )
            )
        name = str(entry.get("name") or "")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", name):
            issues.append(
                ConfigIssue(file, f"{where}.name", f"'{name}' is not a rule name", "letters, digits, _ and -")
            )
        elif name in names:
            issues.append(
                ConfigIssue(file, f"{where}.name", f"'{name}' is used by another rule", "give each rule its own name")
            )
        names.add(name)
        try:
            condition = parse_condition(str(entry.get("condition") or ""))
        except ConditionError as exc:
            issues.append(
                ConfigIssue(file, f"{where}.condition", str(exc), "see docs/monitoring.md, 'Alert conditions'")
            )
            condition = None
        severity = str(entry.get("severity") or "medium")
        if severity not in SEVERITIES:
            issues.append(
                ConfigIssue(
                    file, f"{where}.severity", f"'{severity}' is not a severity", f"use {', '.join(SEVERITIES)}"
                )
            )
        actions = entry.get("actions") or []
        if not isinstance(actions, list) or not actions:
            issues.append(
                ConfigIssue(file, f"{where}.actions", "needs a list of actions", "name a notifier of `notifiers`")
            )
            actions = []
        for i, action in enumerate(actions):
            if action in REFUSED_ACTIONS:
                issues.append(
                    ConfigIssue(file, f"{where}.actions[{i}]", f"'{action}' is refused: {REFUSED_ACTIONS[action]}")
                )
            elif action not in notifiers:
                known = ", ".join(sorted(notifiers)) or "none is configured"
                issues.append(
                    ConfigIssue(
                        file,
                        f"{where}.actions[{i}]",
                        f"'{action}' is no notifier of this file (notifiers: {known})",
                        "add it under `notifiers` (an Airflow BaseNotifier class and its arguments), or remove it",
                    )
                )
        if condition is not None:
            rules.append(AlertRule(name, condition, severity, tuple(str(a) for a in actions)))
    if issues:
        raise DualEngineConfigError(issues)
    return rules
