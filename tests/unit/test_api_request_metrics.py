"""API request metrics aggregated per container: one EMF document per status class and interval."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobsched import config, telemetry
from jobsched.settings import load_telemetry_settings
from tests.support.apigw import rest_event
from tests.support.emf import emitted_metrics, named

STARTED_AT_MS = 1_764_640_000_000


class Clock:
    """A monotonic clock the test moves, and the epoch milliseconds it stands for."""

    def __init__(self) -> None:
        self.seconds = 500.0

    def __call__(self) -> float:
        return self.seconds

    def epoch_ms(self) -> int:
        return STARTED_AT_MS + int((self.seconds - 500.0) * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def aggregated(clock: Clock, lines: list[str]) -> telemetry.ApiRequestMetrics:
    return telemetry.ApiRequestMetrics(60, now=clock, epoch_ms=clock.epoch_ms, write=lines.append)


def _invoke(metrics: telemetry.ApiRequestMetrics, status: int, duration_ms: float) -> None:
    """What instrument_api does for one request: count it, then write what is due."""
    metrics.add(status, duration_ms)
    metrics.flush_due()


def _documents(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def test_requests_within_the_interval_write_nothing_until_it_has_passed(
    aggregated: telemetry.ApiRequestMetrics, clock: Clock, lines: list[str]
) -> None:
    for n in range(30):
        _invoke(aggregated, 200, 10.0 + n)
        clock.seconds += 1.9  # the 30th request comes 55.1 s after the first
    assert lines == []

    clock.seconds += 5  # 60.8 s after the set's first request
    aggregated.flush_due()

    (document,) = _documents(lines)
    assert document[telemetry.API_REQUESTS_TOTAL] == 30
    assert document[telemetry.API_REQUEST_DURATION] == [10.0 + n for n in range(30)]
    assert document["status_class"] == "2xx" and "route" not in document


def test_each_status_class_is_its_own_document(
    aggregated: telemetry.ApiRequestMetrics, clock: Clock, lines: list[str]
) -> None:
    _invoke(aggregated, 200, 12.0)
    _invoke(aggregated, 503, 80.0)
    _invoke(aggregated, 201, 14.0)
    _invoke(aggregated, 404, 3.0)
    _invoke(aggregated, 204, 30.0)
    clock.seconds += 60
    aggregated.flush_due()

    counts = {
        doc["status_class"]: (doc["api_requests_total"], doc["api_request_duration"])
        for doc in _documents(lines)
    }
    assert counts == {"2xx": (3, [12.0, 14.0, 30.0]), "4xx": (1, [3.0]), "5xx": (1, [80.0])}


def test_a_set_is_written_at_its_hundredth_value_without_waiting_for_the_interval(
    aggregated: telemetry.ApiRequestMetrics, clock: Clock, lines: list[str]
) -> None:
    for _ in range(250):
        _invoke(aggregated, 200, 7.25)
        clock.seconds += 0.01
    assert [doc[telemetry.API_REQUESTS_TOTAL] for doc in _documents(lines)] == [100, 100]
    assert all(len(doc[telemetry.API_REQUEST_DURATION]) == 100 for doc in _documents(lines))

    clock.seconds += 60
    aggregated.flush_due()
    assert [doc[telemetry.API_REQUESTS_TOTAL] for doc in _documents(lines)] == [100, 100, 50]


def test_no_document_carries_more_than_a_hundred_values_even_between_flushes(
    aggregated: telemetry.ApiRequestMetrics, lines: list[str]
) -> None:
    for _ in range(101):
        aggregated.add(200, 3.0)

    (full,) = _documents(lines)
    assert len(full[telemetry.API_REQUEST_DURATION]) == telemetry.MAX_VALUES_PER_DOCUMENT == 100
    aggregated.flush_due()  # the 101st starts a new set, not yet due
    assert len(lines) == 1


def test_an_interval_of_zero_writes_every_invocation(clock: Clock, lines: list[str]) -> None:
    local = telemetry.ApiRequestMetrics(0, now=clock, epoch_ms=clock.epoch_ms, write=lines.append)
    _invoke(local, 404, 2.0)
    _invoke(local, 404, 3.0)

    assert [doc[telemetry.API_REQUEST_DURATION] for doc in _documents(lines)] == [[2.0], [3.0]]


def test_the_document_is_emf_naming_its_metrics_and_dimensions_stamped_when_written(
    aggregated: telemetry.ApiRequestMetrics, clock: Clock, lines: list[str]
) -> None:
    _invoke(aggregated, 404, 12.345)
    clock.seconds += 75
    aggregated.flush_due()

    (document,) = _documents(lines)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert document["_aws"]["Timestamp"] == STARTED_AT_MS + 75_000  # when written, not the first request
    assert directive["Namespace"] == config.METRICS_NAMESPACE
    assert directive["Dimensions"] == [["service", "status_class"]]
    assert all(isinstance(document[name], str) for name in directive["Dimensions"][0])
    assert directive["Metrics"] == [
        {"Name": "api_requests_total", "Unit": "Count"},
        {"Name": "api_request_duration", "Unit": "Milliseconds"},
    ]
    expected = {"service": config.SERVICE, "status_class": "4xx"}
    emitted = emitted_metrics(lines[0])
    assert {metric.name: metric.values for metric in emitted} == {
        "api_requests_total": [1],
        "api_request_duration": [12.3],  # to a tenth of a millisecond
    }
    assert all(metric.dimensions == expected for metric in emitted)
    assert lines[0] == json.dumps(document, separators=(",", ":"))  # one line, no spaces


def test_the_interval_is_the_setting_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, clock: Clock, lines: list[str]
) -> None:
    monkeypatch.setenv("METRICS_FLUSH_SECONDS", "5")
    load_telemetry_settings.cache_clear()
    try:
        metrics = telemetry.ApiRequestMetrics(now=clock, epoch_ms=clock.epoch_ms, write=lines.append)
        _invoke(metrics, 200, 1.0)
        clock.seconds += 4.9
        metrics.flush_due()
        assert lines == []
        clock.seconds += 0.1
        metrics.flush_due()
        assert len(lines) == 1 and metrics.flush_seconds == 5
    finally:
        load_telemetry_settings.cache_clear()


def test_an_api_handler_writes_its_requests_once_the_set_is_due(
    monkeypatch: pytest.MonkeyPatch, aggregated: telemetry.ApiRequestMetrics, clock: Clock, lines: list[str]
) -> None:
    monkeypatch.setattr(telemetry, "api_request_metrics", aggregated)

    @telemetry.instrument_api
    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    for path in ("/api/v1/jobs", "/api/v1/schedule/status", "/api/v1/jobs"):
        api(rest_event("GET", path), None)
    assert lines == []
    clock.seconds += 60
    api(rest_event("GET", "/api/v1/jobs"), None)

    # every route's requests of a status class in one set
    request = named(emitted_metrics("\n".join(lines)), telemetry.API_REQUESTS_TOTAL)
    assert [(metric.dimensions, metric.values) for metric in request] == [
        ({"service": config.SERVICE, "status_class": "2xx"}, [4])
    ]
