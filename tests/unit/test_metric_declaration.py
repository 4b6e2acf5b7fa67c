"""telemetry.METRICS against what the code writes: every record_* path is driven and its EMF output read.

The cost model prices telemetry.custom_metric_series() (infra/cost): a metric, a dimension or a dimension
value the declaration does not hold would be written, and billed, without being priced. These tests fail
on any, and on a declared series no path writes (a declaration that prices more than the code makes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jobsched import config, telemetry
from jobsched.keyscheme import JobKey
from tests.support.apigw import rest_event
from tests.support.emf import EmittedMetric, emitted_metrics

Series = tuple[str, frozenset[tuple[str, str]]]
JOB = JobKey("acme", "job_01ARZ3NDEKTSV4RRFFQ69G5FAV")


def _api_answering(status: int) -> Callable[[], object]:
    @telemetry.instrument_api
    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": status}

    return lambda: api(rest_event("GET", "/api/v1/jobs"), None)


def _api_raising() -> None:
    @telemetry.instrument_api
    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        api(rest_event("POST", "/api/v1/jobs"), None)


def _in_handler(*calls: Callable[[], object]) -> Callable[[], None]:
    """The calls inside one invocation of a non-API handler (its shared metric set flushed at the end)."""

    @telemetry.instrument_handler
    def handler(event: dict[str, Any], context: Any) -> None:
        for call in calls:
            call()

    return lambda: handler({}, None)


# Each record_* helper of telemetry, and how to make it write everything it can: every value of every
# dimension it sets, and the odd inputs (an unknown outcome, a status outside the classes) too.
DRIVERS: dict[str, list[Callable[[], object]]] = {
    "record_api_request": [
        *(_api_answering(status) for status in (200, 201, 204, 302, 400, 404, 409, 422, 429, 500, 503, 700)),
        _api_raising,
    ],
    "record_job_created": [_in_handler(telemetry.record_job_created)],
    "record_execution": [
        _in_handler(
            *(
                lambda o=outcome: telemetry.record_execution(o, 12.0)
                for outcome in telemetry.ExecutionOutcome
            ),
            lambda: telemetry.record_execution("exploded", 1.0),
        )
    ],
    "record_active_jobs": [_in_handler(lambda: telemetry.record_active_jobs(7))],
    "record_authorizer_decision": [
        _in_handler(
            *(
                lambda d=decision: telemetry.record_authorizer_decision(d)
                for decision in telemetry.AuthorizerDecision
            )
        )
    ],
    "record_final_failure": [_in_handler(telemetry.record_final_failure)],
    "record_fire_rejected": [
        _in_handler(lambda: telemetry.record_fire_rejected("bad token", tenant="acme", job_id=JOB.job_id))
    ],
    "record_heartbeat": [_in_handler(telemetry.record_heartbeat)],
    "record_heartbeat_unanswered": [_in_handler(lambda: telemetry.record_heartbeat_unanswered("503"))],
    "record_schedule_sync_failure": [
        _in_handler(lambda: telemetry.record_schedule_sync_failure(JOB, RuntimeError("throttled")))
    ],
    "record_schedule_rejected": [_in_handler(lambda: telemetry.record_schedule_rejected(JOB, "bad cron"))],
    "record_job_census": [_in_handler(lambda: telemetry.record_job_census(10, 1, 0))],
}


def _declared() -> set[Series]:
    series: set[Series] = set()
    for metric in telemetry.METRICS:
        combinations: list[frozenset[tuple[str, str]]] = [frozenset()]
        for name, values in metric.dimensions.items():
            combinations = [combo | {(name, value)} for combo in combinations for value in values]
        series.update((metric.name, combo) for combo in combinations)
    return series


def _series(metric: EmittedMetric) -> Series:
    return metric.name, frozenset(metric.dimensions.items())


@pytest.fixture
def emitted(capsys: pytest.CaptureFixture[str]) -> list[EmittedMetric]:
    capsys.readouterr()
    for drivers in DRIVERS.values():
        for drive in drivers:
            drive()
    return emitted_metrics(capsys.readouterr().out)


def test_every_record_helper_is_driven() -> None:
    """A new record_* helper must be added to DRIVERS, so what it writes is checked below."""
    helpers = {name for name in vars(telemetry) if name.startswith("record_")}
    assert helpers == set(DRIVERS)


def test_nothing_is_written_outside_the_declaration(emitted: list[EmittedMetric]) -> None:
    declared = {metric.name: metric.dimensions for metric in telemetry.METRICS}
    assert emitted, "the drivers wrote no metric"
    assert {metric.namespace for metric in emitted} == {config.METRICS_NAMESPACE}
    for metric in emitted:
        assert metric.name in declared, f"{metric.name} is written but not declared in telemetry.METRICS"
        dimensions = declared[metric.name]
        assert set(metric.dimensions) == set(dimensions), (metric.name, metric.dimensions)
        outside = {name: value for name, value in metric.dimensions.items() if value not in dimensions[name]}
        assert outside == {}, f"{metric.name}: undeclared dimension values {outside}"


def test_every_declared_series_is_written_by_some_path(emitted: list[EmittedMetric]) -> None:
    """The declaration prices no series the code cannot make (and the two sets are the same)."""
    assert {_series(metric) for metric in emitted} == _declared()


def test_the_series_count_is_the_sum_of_each_metrics_value_combinations() -> None:
    assert telemetry.custom_metric_series() == len(_declared())
    # 9 metrics with the service dimension only; jobs_executed_total by 3 outcomes; the 2 API request
    # metrics by 3 status classes; authorizer_decisions_total by its one decision (denied).
    assert telemetry.custom_metric_series() == 9 + 3 + 2 * 3 + 1 == 19
    assert len({metric.name for metric in telemetry.METRICS}) == len(telemetry.METRICS)
