"""The deployed handlers' telemetry on moto: the spec's metrics, and no secrets in their log lines."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import boto3
import pytest

from jobsched import config, telemetry
from jobsched.keys.adapters.key_service import make_key_service
from jobsched_local.provision import ensure_api
from tests.support.apigw import rest_event
from tests.support.emf import captured_logs, emitted_metrics, named

SECRET_HEADER_VALUE = "Bearer s3cr3t-token-never-logged"
TARGET_BODY = '{"card": "4111-1111-1111-1111"}'


@pytest.fixture
def job_api(aws: None) -> ModuleType:
    return importlib.import_module("functions.job_api.handler")


@pytest.fixture
def authorizer(aws: None) -> ModuleType:
    return importlib.import_module("functions.authorizer.handler")


def _job_spec() -> dict[str, Any]:
    return {
        "name": "nightly report",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {
            "type": "http",
            "url": "https://hooks.example.com/report",
            "headers": {"Authorization": SECRET_HEADER_VALUE},
            "body": TARGET_BODY,
        },
    }


def _create(job_api: ModuleType, spec: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = job_api.handler(rest_event("POST", "/api/v1/jobs", body=spec), None)
    return response["statusCode"], json.loads(response["body"])


def _dimensions(metrics: list[Any], name: str) -> list[dict[str, str]]:
    return [metric.dimensions for metric in named(metrics, name)]


def test_job_api_counts_a_created_job_and_the_request(
    job_api: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = rest_event("POST", "/api/v1/jobs", body=_job_spec())
    with captured_logs() as logs:
        response = job_api.handler(event, None)
    emitted = emitted_metrics(capsys.readouterr().out)

    assert response["statusCode"] == 201
    assert _dimensions(emitted, telemetry.JOBS_CREATED_TOTAL) == [{"service": config.SERVICE}]
    request = {"service": config.SERVICE, "status_class": "2xx"}
    assert _dimensions(emitted, telemetry.API_REQUESTS_TOTAL) == [request]
    assert _dimensions(emitted, telemetry.API_REQUEST_DURATION) == [request]
    logged = logs.getvalue()
    (handled,) = [json.loads(line) for line in logged.splitlines() if '"request handled"' in line]
    assert (handled["route"], handled["status"], handled["tenant"]) == ("POST /api/v1/jobs", 201, "acme")
    assert SECRET_HEADER_VALUE not in logged
    assert TARGET_BODY not in logged and json.dumps(TARGET_BODY) not in logged


def test_an_idempotent_replay_is_not_counted_as_a_created_job(
    job_api: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"Idempotency-Key": "once"}
    for _ in range(2):
        response = job_api.handler(
            rest_event("POST", "/api/v1/jobs", body=_job_spec(), headers=headers), None
        )
        assert response["statusCode"] == 201
    emitted = emitted_metrics(capsys.readouterr().out)

    assert len(named(emitted, telemetry.JOBS_CREATED_TOTAL)) == 1
    assert len(named(emitted, telemetry.API_REQUESTS_TOTAL)) == 2


def test_job_api_counts_client_errors_by_status_class_and_logs_the_route_template(
    job_api: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    event = rest_event("GET", "/api/v1/jobs/job_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    event["resource"] = "/api/v1/jobs/{job_id}"
    event["pathParameters"] = {"job_id": "job_01ARZ3NDEKTSV4RRFFQ69G5FAV"}

    with captured_logs() as logs:
        assert job_api.handler(event, None)["statusCode"] == 404
    emitted = emitted_metrics(capsys.readouterr().out)

    assert _dimensions(emitted, telemetry.API_REQUESTS_TOTAL) == [
        {"service": config.SERVICE, "status_class": "4xx"}
    ]
    assert named(emitted, telemetry.JOBS_CREATED_TOTAL) == []
    (handled,) = [json.loads(line) for line in logs.getvalue().splitlines() if '"request handled"' in line]
    assert (handled["route"], handled["status"]) == ("GET /api/v1/jobs/{job_id}", 404)


def test_authorizer_counts_refusals_only_and_never_logs_the_key(
    authorizer: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    ensure_api(boto3.client("apigateway", region_name="us-east-1"))
    service = make_key_service(
        lambda name, region: boto3.client(name, region_name=region), "us-east-1", ("us-east-1",)
    )
    _, key_value = service.create("acme", "standard", "operator")
    method_arn = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/api/v1/jobs"

    with captured_logs() as logs:
        authorizer.handler({"methodArn": method_arn, "headers": {"x-api-key": key_value}}, None)
        with pytest.raises(Exception, match="Unauthorized"):
            authorizer.handler({"methodArn": method_arn, "headers": {"x-api-key": key_value + "x"}}, None)
    emitted = emitted_metrics(capsys.readouterr().out)

    # One count for the refusal; the acceptance writes no metric line (the stage's Count has it).
    assert [d["decision"] for d in _dimensions(emitted, telemetry.AUTHORIZER_DECISIONS_TOTAL)] == ["denied"]
    logged = logs.getvalue()
    assert "caller accepted" in logged and "caller refused" in logged
    assert key_value not in logged


def test_the_executor_counts_each_execution_by_outcome(
    job_api: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("sqs").create_queue(QueueName=config.EXECUTION_QUEUE)
    executor = importlib.import_module("functions.executor.handler")
    status, paused = _create(job_api, _job_spec() | {"enabled": False})
    assert status == 201
    item = boto3.client("dynamodb").get_item(
        TableName=config.JOBS_TABLE, Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{paused['job_id']}"}}
    )["Item"]
    fire = {
        "tenant": "acme",
        "job_id": paused["job_id"],
        "job_version": 1,
        "scheduled_time": "2026-12-01T10:00:00Z",
        "fire_token": item["fire_token"]["S"],
    }
    capsys.readouterr()
    record = {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": json.dumps(fire),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{config.EXECUTION_QUEUE}",
        "awsRegion": "us-east-1",
    }
    assert executor.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    emitted = emitted_metrics(capsys.readouterr().out)
    assert _dimensions(emitted, telemetry.JOBS_EXECUTED_TOTAL) == [
        {"service": config.SERVICE, "outcome": "skipped"}
    ]
    assert [m.values for m in named(emitted, telemetry.JOB_EXECUTION_DURATION)] == [[0.0]]


@pytest.mark.parametrize(
    ("function", "method", "path", "route"),
    [
        ("schedule_api", "GET", "/api/v1/schedule/status", "GET /api/v1/schedule/status"),
        ("executions_api", "GET", "/api/v1/executions/job_none", "GET /api/v1/executions/{job_id}"),
    ],
)
def test_the_other_apis_count_their_requests(
    aws: None, capsys: pytest.CaptureFixture[str], function: str, method: str, path: str, route: str
) -> None:
    module = importlib.import_module(f"functions.{function}.handler")
    event = rest_event(method, path)
    event["resource"] = route.split(" ", 1)[1]
    response = module.handler(event, None)
    emitted = emitted_metrics(capsys.readouterr().out)
    status_class = f"{str(response['statusCode'])[0]}xx"
    assert _dimensions(emitted, telemetry.API_REQUESTS_TOTAL) == [
        {"service": config.SERVICE, "status_class": status_class}
    ]
