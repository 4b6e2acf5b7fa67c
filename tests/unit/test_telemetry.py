"""The telemetry module: metric names, dimensions and namespace in the EMF output; correlation ids in logs."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from jobsched import config, telemetry
from tests.support.apigw import rest_event
from tests.support.emf import captured_logs, emitted_metrics, log_records, named


def _only(metrics: list[Any]) -> Any:
    assert len(metrics) == 1, metrics
    return metrics[0]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "2xx"),
        (201, "2xx"),
        (404, "4xx"),
        (502, "5xx"),
        (0, "5xx"),
        (700, "5xx"),
        (101, "5xx"),
        (302, "5xx"),
    ],
)
def test_status_class(status: int, expected: str) -> None:
    assert telemetry.status_class(status) == expected


def test_route_is_the_resource_template_not_the_concrete_path() -> None:
    event = rest_event("GET", "/api/v1/jobs/job_01")
    event["resource"] = "/api/v1/jobs/{job_id}"

    assert telemetry.route_of(event) == "GET /api/v1/jobs/{job_id}"


def test_record_execution_counts_by_outcome_and_records_the_duration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @telemetry.instrument_handler
    def executor(event: dict[str, Any], context: Any) -> None:
        telemetry.record_execution(telemetry.ExecutionOutcome.SUCCEEDED, 120.0)
        telemetry.record_execution("failed", 80.0)
        telemetry.record_execution("exploded", 5.0)

    executor({}, None)
    emitted = emitted_metrics(capsys.readouterr().out)

    counted = named(emitted, telemetry.JOBS_EXECUTED_TOTAL)
    assert sorted(metric.dimensions[telemetry.OUTCOME_DIMENSION] for metric in counted) == [
        "failed",
        "failed",
        "succeeded",
    ]
    assert {metric.namespace for metric in emitted} == {config.METRICS_NAMESPACE}
    assert all(metric.dimensions["service"] == config.SERVICE for metric in emitted)
    duration = _only(named(emitted, telemetry.JOB_EXECUTION_DURATION))
    assert sorted(duration.values) == [5.0, 80.0, 120.0]
    assert duration.unit == "Milliseconds"


def test_active_jobs_gauge_and_jobs_created(capsys: pytest.CaptureFixture[str]) -> None:
    @telemetry.instrument_handler
    def counter(event: dict[str, Any], context: Any) -> None:
        telemetry.record_active_jobs(42)
        telemetry.record_job_created()

    counter({}, None)
    emitted = emitted_metrics(capsys.readouterr().out)

    assert _only(named(emitted, telemetry.ACTIVE_JOBS_GAUGE)).values == [42]
    assert _only(named(emitted, telemetry.JOBS_CREATED_TOTAL)).dimensions == {"service": config.SERVICE}


def test_a_final_failure_is_counted_with_the_service_dimension_only(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @telemetry.instrument_handler
    def executor(event: dict[str, Any], context: Any) -> None:
        telemetry.record_final_failure()

    executor({}, None)
    failed = _only(named(emitted_metrics(capsys.readouterr().out), telemetry.EXECUTIONS_FAILED_FINAL))
    assert failed.name == "executions_failed_final"
    assert (failed.dimensions, failed.values, failed.unit) == ({"service": config.SERVICE}, [1], "Count")
    assert failed.namespace == config.METRICS_NAMESPACE


def test_an_invocation_without_metrics_writes_no_emf(capsys: pytest.CaptureFixture[str]) -> None:
    telemetry.instrument_handler(lambda event, context: None)({}, None)

    assert emitted_metrics(capsys.readouterr().out) == []


def test_an_escaping_exception_counts_as_a_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    @telemetry.instrument_api
    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        broken(rest_event("GET", "/api/v1/jobs"), None)

    total = _only(named(emitted_metrics(capsys.readouterr().out), telemetry.API_REQUESTS_TOTAL))
    assert total.dimensions[telemetry.STATUS_CLASS_DIMENSION] == "5xx"


def test_correlation_ids_reach_every_log_line_and_do_not_leak_into_the_next_invocation() -> None:
    @telemetry.instrument_api
    def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
        telemetry.bind(execution_id="exe_1")
        telemetry.logger.info("working")
        return {"statusCode": 200}

    first = rest_event("GET", "/api/v1/jobs/job_1", tenant="acme")
    first["pathParameters"] = {"job_id": "job_1"}
    with captured_logs() as stream:
        api(first, None)
        api(rest_event("GET", "/api/v1/jobs", tenant="globex"), None)
    records = log_records(stream)

    working = [record for record in records if record["message"] == "working"]
    assert working[0]["tenant"] == "acme" and working[0]["job_id"] == "job_1"
    assert working[0]["request_id"] == first["requestContext"]["requestId"]
    assert working[0]["correlation_id"] == first["requestContext"]["requestId"]
    assert working[1]["tenant"] == "globex" and "job_id" not in working[1]
    handled = [record for record in records if record["message"] == "request handled"]
    assert [record["status"] for record in handled] == [200, 200]


def test_health_emits_the_api_request_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    health = importlib.import_module("functions.health.handler")
    event = rest_event("GET", "/health")

    response = health.handler(event, None)
    emitted = emitted_metrics(capsys.readouterr().out)

    assert response["statusCode"] == 200
    expected_dimensions = {"service": config.SERVICE, "status_class": "2xx"}
    assert _only(named(emitted, telemetry.API_REQUESTS_TOTAL)).dimensions == expected_dimensions
    duration = _only(named(emitted, telemetry.API_REQUEST_DURATION))
    assert duration.dimensions == expected_dimensions
    assert duration.unit == "Milliseconds"


def test_a_due_request_set_writes_one_emf_line_with_both_request_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    telemetry.record_api_request(404, 12.5)
    assert capsys.readouterr().out == ""  # counted, written once due (here: at the invocation's end)
    telemetry.api_request_metrics.flush_due()

    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(lines) == 1
    emitted = emitted_metrics(lines[0])
    expected = {"service": config.SERVICE, "status_class": "4xx"}
    assert {(metric.name, metric.unit) for metric in emitted} == {
        (telemetry.API_REQUESTS_TOTAL, "Count"),
        (telemetry.API_REQUEST_DURATION, "Milliseconds"),
    }
    assert all(metric.dimensions == expected for metric in emitted)
    assert {metric.name: metric.values for metric in emitted}[telemetry.API_REQUEST_DURATION] == [12.5]


@pytest.mark.parametrize(
    ("env", "made"),
    [
        ({"POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": "/var/task"}, False),
        ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),  # outside Lambda: nothing to trace into
    ],
)
def test_no_tracer_is_made_where_tracing_is_off(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], made: bool
) -> None:
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (telemetry._make_tracer() is not None) is made


def test_the_decision_log_names_every_metric_the_service_writes() -> None:
    """docs/decisions.md (Operations) lists the metric names; a new metric constant must be listed there."""
    decisions = (Path(__file__).resolve().parents[2] / "docs" / "decisions.md").read_text(encoding="utf-8")
    names = [metric.name for metric in telemetry.METRICS]
    assert len(names) == 13
    assert [name for name in names if f"`{name}`" not in decisions] == []
