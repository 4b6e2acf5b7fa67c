"""Hostile input through the API functions on moto: every one a 4xx with the envelope naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched import config
from tests.integration.scheduling_support import client_for, provision_scheduling
from tests.support.apigw import rest_event

pytestmark = pytest.mark.usefixtures("aws")
Call = Callable[..., tuple[int, dict[str, str], Any]]


@pytest.fixture
def call() -> Call:
    provision_scheduling(["us-east-1"], client_for)
    boto3.client("sqs").create_queue(QueueName=config.EXECUTION_QUEUE)
    from functions.executions_api import handler as executions_api
    from functions.job_api import handler as job_api
    from functions.schedule_api import handler as schedule_api

    def invoke(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        content_type = kwargs.pop("content_type", "application/json")
        event = rest_event(method, path, **kwargs)
        if content_type is None or (kwargs.get("body") is None and kwargs.get("raw_body") is None):
            event["headers"].pop("Content-Type")
            event["multiValueHeaders"].pop("Content-Type")
        if content_type not in (None, "application/json"):
            event["headers"]["Content-Type"] = content_type
            event["multiValueHeaders"]["Content-Type"] = [content_type]
        if "/schedule" in path:
            function = schedule_api
        elif "/executions" in path or path.endswith("/run"):
            function = executions_api
        else:
            function = job_api
        response = function.handler(event, None)
        headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = values[-1]
        raw = response.get("body")
        return response["statusCode"], headers, json.loads(raw) if raw else raw

    return invoke


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "edge",
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"url": "https://hooks.example.com/x", "body": "{}"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def create(call: Call) -> str:
    status, _, job = call("POST", "/api/v1/jobs", body=spec())
    assert status == 201, job
    return str(job["job_id"])


def fields(body: dict[str, Any]) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


def far_future(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"target": {"url": "https://hooks.example.com/a b"}}, "target.url"),
        ({"target": {"url": "https://hooks.example.com/\r\nX: 1"}}, "target.url"),
        ({"target": {"url": "https://user:pass@hooks.example.com/"}}, "target.url"),
        ({"target": {"url": "https://127.0.0.1/hook"}}, "target.url"),
        ({"target": {"url": "https://2130706433/hook"}}, "target.url"),
        ({"target": {"url": "https://[::ffff:169.254.169.254]/"}}, "target.url"),
        ({"target": {"url": "https://999.1.1.1/"}}, "target.url"),
        ({"target": {"headers": {"X-Team": "a\r\nInjected: 1"}}}, "target.headers.X-Team"),
        ({"target": {"headers": {"X-Team": "a\nb"}}}, "target.headers.X-Team"),
        ({"target": {"headers": {"X-Team": "a\x00b"}}}, "target.headers.X-Team"),
        ({"target": {"headers": {"Host": "internal"}}}, "target.headers"),
        ({"target": {"headers": {"content-LENGTH": "5"}}}, "target.headers"),
        ({"target": {"headers": {"Transfer-Encoding": "chunked"}}}, "target.headers"),
        ({"target": {"headers": {"Connection": "close"}}}, "target.headers"),
        ({"target": {"headers": {"Webhook-Signature": "v1,forged"}}}, "target.headers"),
        ({"target": {"headers": {"webhook-id": "x"}}}, "target.headers"),
        ({"target": {"headers": {"WEBHOOK-TIMESTAMP": "1"}}}, "target.headers"),
        ({"target": {"headers": {"X-Team": "a", "x-team": "b"}}}, "target.headers"),  # one header, twice
        ({"schedule": {"expression": "cron(0 0 31 2 ? *)"}}, "schedule.expression"),
        ({"schedule": {"expression": "cron(0 0 1 1 ? 2020)"}}, "schedule.expression"),
        ({"schedule": {"expression": "at(2020-01-01T00:00:00)"}}, "schedule.expression"),
        (
            {"schedule": {"expression": "at(9999-12-31T23:59:59)", "timezone": "America/New_York"}},
            "schedule.expression",
        ),
        (
            {"schedule": {"expression": "at(0001-01-01T00:00:00)", "timezone": "Asia/Tokyo"}},
            "schedule.expression",
        ),
        ({"schedule": {"expression": "at(0000-01-01T00:00:00)"}}, "schedule.expression"),
        ({"schedule": {"end_at": "2020-01-01T00:00:00Z"}}, "schedule.end_at"),
        ({"schedule": {"start_at": "9999-12-31T23:59:59", "timezone": "America/New_York"}}, "schedule"),
        ({"schedule": {"end_at": "0001-01-01T00:00:00", "timezone": "Asia/Tokyo"}}, "schedule"),
        ({"schedule": {"end_at": "10000-01-01T00:00:00Z"}}, "schedule.end_at"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_create_refuses_with_422_naming_the_field(call: Call, overrides: dict[str, Any], field: str) -> None:
    status, _, body = call("POST", "/api/v1/jobs", body=spec(**overrides))
    assert status == 422, body
    assert field in fields(body), body


def test_the_same_checks_hold_on_replace(call: Call) -> None:
    job_id = create(call)
    status, _, body = call(
        "PUT", f"/api/v1/jobs/{job_id}", body=spec(schedule={"expression": "cron(0 0 31 2 ? *)"})
    )
    assert (status, fields(body)) == (422, ["schedule.expression"])
    status, _, body = call("PUT", f"/api/v1/jobs/{job_id}", body=spec(target={"headers": {"Host": "x"}}))
    assert (status, fields(body)) == (422, ["target.headers"])


def test_an_at_in_the_future_and_a_window_ending_later_are_accepted(call: Call) -> None:
    status, _, job = call(
        "POST",
        "/api/v1/jobs",
        body=spec(schedule={"expression": f"at({far_future()})", "end_at": far_future(60) + "Z"}),
    )
    assert status == 201, job


@pytest.mark.parametrize("if_match", ['"' + "9" * 400 + '"', "9" * 40, '"²"', '"1.5"', 'W/"-1"'])
def test_if_match_that_names_no_possible_version_is_412(call: Call, if_match: str) -> None:
    job_id = create(call)
    status, _, body = call("DELETE", f"/api/v1/jobs/{job_id}", headers={"If-Match": if_match})
    assert (status, body["error"]["code"]) == (412, "precondition_failed")
    status, _, body = call("PUT", f"/api/v1/jobs/{job_id}", body=spec(), headers={"If-Match": if_match})
    assert (status, body["error"]["code"]) == (412, "precondition_failed")


def test_json_nested_beyond_the_parsers_recursion_limit_is_400(call: Call) -> None:
    status, _, body = call("POST", "/api/v1/jobs", raw_body="[" * 100_000 + "]" * 100_000)
    assert (status, fields(body)) == (400, ["body"])
    status, _, body = call("POST", "/api/v1/jobs", raw_body='{"name":' * 50 + "1" + "}" * 50)
    assert (status, fields(body)) == (400, ["body"])


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=", "text/plain"]
)
def test_any_content_type_on_a_delete_is_a_4xx(call: Call, content_type: str) -> None:
    job_id = create(call)
    status, _, body = call(
        "DELETE", f"/api/v1/schedule/{job_id}", raw_body='{"note": ""}', content_type=content_type
    )
    assert (status, fields(body)) == (415, ["Content-Type"])
    # Without a body the header means nothing: the pause goes through.
    status, _, job = call("DELETE", f"/api/v1/schedule/{job_id}", content_type=content_type)
    assert (status, job["enabled"]) == (200, False)


@pytest.mark.parametrize("path", ["/api/v1/jobs/job_1\n", "/api/v1/jobs/\x00", "/api/v1/executions/a\x1fb"])
def test_control_characters_in_the_path_are_400(call: Call, path: str) -> None:
    status, _, body = call("GET", path)
    assert (status, fields(body)) == (400, ["path"])


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("DELETE", "/api/v1/schedule/{job_id}"),
        ("POST", "/api/v1/schedule/{job_id}"),
        ("DELETE", "/api/v1/jobs/{job_id}"),
        ("POST", "/api/v1/jobs/{job_id}/run"),
        ("POST", "/api/v1/jobs/{job_id}/webhook-secret"),
        ("POST", "/api/v1/executions/{job_id}/retry"),
    ],
)
def test_every_body_refuses_unknown_fields(call: Call, method: str, route: str) -> None:
    job_id = create(call)
    path = route.replace("{job_id}", job_id)
    status, _, body = call(
        method,
        path,
        body={"note": "x", "surprise": True}
        if method == "DELETE" and "schedule" in path
        else {"surprise": True},
    )
    assert (status, fields(body)) == (422, ["surprise"]), body


def test_a_204_has_no_body_and_no_content_type(call: Call) -> None:
    job_id = create(call)
    status, headers, body = call("DELETE", f"/api/v1/jobs/{job_id}")
    assert (status, body) == (204, "")
    assert "content-type" not in headers
