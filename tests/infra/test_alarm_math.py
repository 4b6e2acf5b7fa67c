"""Every alarm states how missing data counts, and every metric-math alarm goes to ALARM on one failure
series alone, the other series missing (evaluated with tests/support/metric_math.py)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.metric_math import evaluate

# Series that count successes: with them alone an alarm must not fire (every other series is a failure).
SUCCESS_SERIES = {"succeeded"}
BREACHES: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
}


def _alarms(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        alarm["Properties"]["AlarmName"]: alarm["Properties"]
        for alarm in resources.values()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_every_alarm_states_how_missing_data_counts(resources: dict[str, dict[str, Any]]) -> None:
    for name, alarm in _alarms(resources).items():
        assert alarm.get("TreatMissingData") in ("notBreaching", "breaching"), name


def test_only_the_heartbeat_treats_silence_as_breaching(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    breaching = [
        name for name, alarm in _alarms(resources).items() if alarm["TreatMissingData"] == "breaching"
    ]
    assert breaching == [f"jobsched-{region}-critical-HeartbeatMissing"]


def test_each_metric_math_alarm_fires_on_a_failure_series_alone(resources: dict[str, dict[str, Any]]) -> None:
    math_alarms = {name: alarm for name, alarm in _alarms(resources).items() if "Metrics" in alarm}
    assert len(math_alarms) >= 5  # execution failure rate; two system-error and two throttle sums
    for name, alarm in math_alarms.items():
        [expression] = [query["Expression"] for query in alarm["Metrics"] if query.get("ReturnData", True)]
        series = [query["Id"] for query in alarm["Metrics"] if "MetricStat" in query]
        breaches = BREACHES[alarm["ComparisonOperator"]]
        for alone in series:
            values: dict[str, float | None] = {other: None for other in series}
            values[alone] = 5.0
            value = evaluate(expression, values)
            assert value is not None, f"{name}: {expression} has no value with only {alone}"
            fires = breaches(value, alarm["Threshold"])
            assert fires is (alone not in SUCCESS_SERIES), f"{name}: {alone} alone gives {value}"
        assert evaluate(expression, dict.fromkeys(series)) in (None, 0.0), name


@pytest.mark.parametrize("failed", [1.0, 3.0])
def test_the_failure_rate_is_the_share_of_finished_executions_that_failed(
    resources: dict[str, dict[str, Any]], region: str, failed: float
) -> None:
    alarm = _alarms(resources)[f"jobsched-{region}-warning-JobExecutionFailures"]
    [expression] = [query["Expression"] for query in alarm["Metrics"] if query.get("ReturnData", True)]
    assert evaluate(expression, {"failed": failed, "succeeded": 9.0}) == failed / (failed + 9.0)
