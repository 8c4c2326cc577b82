"""Alert rules: the seed's conditions parse, every mistake is a clear error at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_dualengine.config.errors import DualEngineConfigError
from airflow_provider_dualengine.monitoring.alert_rules import ConditionError, load_rules, parse_condition

FILE = Path("config/monitoring.yml")


def test_the_seeds_conditions_and_events_parse() -> None:
    lag = parse_condition("dependency_lag > 1 hour")
    assert (lag.metric, lag.op, lag.threshold) == ("dependency_lag", ">", 3600.0)
    cost = parse_condition("daily_cost > 1.5 * baseline")
    assert (cost.metric, cost.baseline_factor) == ("daily_cost", 1.5)
    slow = parse_condition("avg_execution_time > 2 * baseline")
    assert slow.holds(2.1, baseline=1.0) and not slow.holds(1.9, baseline=1.0)
    assert not slow.holds(100.0, baseline=None)  # no baseline yet: never fires
    assert parse_condition("sla_compliance < 95%").holds(90.0)
    assert parse_condition("dependency_lag >= 90 minutes").threshold == 5400.0
    assert parse_condition("deployment_rolled_back").event == "deployment_rolled_back"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dependancy_lag > 1 hour", "unknown metric 'dependancy_lag'"),
        ("dependency_lag > 1", "is a duration: give a unit"),
        ("dependency_lag > 1 fortnight", "'fortnight' is not a duration unit"),
        ("error_rate > 2 * baseline", "'error_rate' has no baseline"),
        ("sla_compliance < 120%", "between 0 and 100"),
        ("daily_cost > 5 EUR", "write a plain number"),
        ("cost is high", "is not a condition"),
    ],
)
def test_a_condition_that_would_never_fire_is_refused(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse_condition(text)


def test_rules_load_and_every_problem_names_its_key() -> None:
    rules = load_rules(
        [{"name": "slow", "condition": "avg_execution_time > 2 * baseline", "severity": "medium", "actions": ["team"]}],
        {"team"},
        FILE,
    )
    assert [(r.name, r.severity, r.actions) for r in rules] == [("slow", "medium", ("team",))]
    with pytest.raises(DualEngineConfigError) as caught:
        load_rules(
            [
                {
                    "name": "lag",
                    "condition": "dependency_lag > 1 hour",
                    "severity": "high",
                    "actions": ["notify_on_call", "auto_retry"],
                },
                {
                    "name": "lag",
                    "condition": "daily_cost > 1.5 * baseline",
                    "severity": "urgent",
                    "actions": ["team"],
                    "when": "x",
                },
            ],
            {"team"},
            FILE,
        )
    text = str(caught.value)
    assert (
        "config/monitoring.yml: alerts[0].actions[0]: 'notify_on_call' is no notifier of this file (notifiers: team)"
        in text
    )
    assert "alerts[0].actions[1]: 'auto_retry' is refused: Airflow retries failed tasks itself" in text
    assert "alerts[1].name: 'lag' is used by another rule" in text
    assert "alerts[1].severity: 'urgent' is not a severity" in text
    assert "alerts[1].when: is not a key of an alert rule" in text
