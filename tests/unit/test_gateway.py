"""The gateway's request pipeline, with stand-in functions and key check (no sockets, no moto)."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from werkzeug.test import Client

from jobsched_local import gateway as gateway_module
from jobsched_local.authorizer_gate import CachingAuthorizer
from jobsched_local.gateway import Gateway
from jobsched_local.key_check import KeyInPlan
from jobsched_local.proxy_event import ApiStage, HttpRequest, ProxyResponse
from jobsched_local.throttle import PlanLimits

API = ApiStage(api_id="api1", stage="prod", region="us-east-1", account_id="123456789012")
ROOMY = PlanLimits(rate=100.0, burst=100, daily_quota=None)


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Functions:
    """Records what each function was called with."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []

    def health(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": json.dumps({"status": "ok"})}

    def job_api(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        if event["path"].endswith("/boom"):
            raise RuntimeError("kaboom")
        if event["path"].endswith("/binary"):
            return {
                "statusCode": 200,
                "body": base64.b64encode(b"\x00\xff").decode(),
                "isBase64Encoded": True,
            }
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    @staticmethod
    def authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        key = {k.lower(): v for k, v in event["headers"].items()}["x-api-key"]
        if key.startswith("unknown"):
            raise Exception("Unauthorized")
        effect = "Deny" if key.startswith("denied") else "Allow"
        statement = {"Effect": effect, "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}
        return {
            "principalId": "key_1",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"tenant": "acme", "role": "admin", "tier": "basic", "key_id": "key_1"},
        }


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_gateway(functions: Functions, clock: Clock, plans: dict[str, PlanLimits] | None = None) -> Gateway:
    plans = plans if plans is not None else {"good": ROOMY, "denied": ROOMY}

    def key_check(value: str) -> KeyInPlan | None:
        limits = plans.get(value)
        return KeyInPlan(key_id=f"aws-{value}", plan_name="jobsched-basic", limits=limits) if limits else None

    return Gateway(
        API,
        {"health": functions.health, "job_api": functions.job_api},
        CachingAuthorizer(functions.authorizer, API.region, clock=clock),
        key_check,
        clock=clock,
    )


def send(
    gateway: Gateway, method: str, path: str, key: str | None = None, body: bytes = b""
) -> ProxyResponse:
    headers = [("X-Api-Key", key)] if key is not None else []
    return gateway.handle(HttpRequest(method, path, headers, [], body, "127.0.0.1", "req-1"))


def body_of(response: ProxyResponse) -> Any:
    return json.loads(response.body)


def test_health_needs_no_key(functions: Functions, clock: Clock) -> None:
    response = send(make_gateway(functions, clock), "GET", "/health")
    assert response.status == 200
    assert ("x-amzn-RequestId", "req-1") in response.headers


def test_unknown_route_is_missing_authentication_token(functions: Functions, clock: Clock) -> None:
    response = send(make_gateway(functions, clock), "GET", "/nowhere", key="good")
    assert (response.status, body_of(response)) == (403, {"message": "Missing Authentication Token"})


@pytest.mark.parametrize(
    ("key", "status", "body"),
    [
        (None, 401, {"message": "Unauthorized"}),
        ("", 401, {"message": "Unauthorized"}),
        ("unknown-key", 401, {"message": "Unauthorized"}),
        ("denied", 403, {"Message": "User is not authorized to access this resource"}),
        ("allowed-but-not-in-a-plan", 401, {"message": "Unauthorized"}),  # revoked: gone from its plan
    ],
)
def test_requests_without_a_usable_key_never_reach_the_function(
    functions: Functions, clock: Clock, key: str | None, status: int, body: dict[str, str]
) -> None:
    response = send(make_gateway(functions, clock), "GET", "/api/v1/jobs", key=key)
    assert (response.status, body_of(response)) == (status, body)
    assert ("Content-Type", "application/json") in response.headers
    assert functions.events == []


def test_allowed_request_gets_a_proxy_event_and_lambda_context(functions: Functions, clock: Clock) -> None:
    response = send(make_gateway(functions, clock), "GET", "/api/v1/jobs/j-1", key="good")
    assert (response.status, body_of(response)) == (200, {"ok": True})
    (event,) = functions.events
    assert event["pathParameters"] == {"job_id": "j-1"}
    assert event["requestContext"]["authorizer"]["tenant"] == "acme"
    assert event["requestContext"]["authorizer"]["principalId"] == "key_1"
    assert event["requestContext"]["identity"]["apiKeyId"] == "aws-good"
    (context,) = functions.contexts
    assert context.function_name == "jobsched-job-api"
    assert context.invoked_function_arn.endswith(":function:jobsched-job-api")
    assert context.get_remaining_time_in_millis() > 0
    assert context.aws_request_id


def test_revoked_key_is_refused_at_once_although_the_allow_is_cached(
    functions: Functions, clock: Clock
) -> None:
    plans = {"good": ROOMY}
    gateway = make_gateway(functions, clock, plans)
    assert send(gateway, "GET", "/api/v1/jobs", key="good").status == 200
    del plans["good"]  # revoked: its API key is gone from the usage plan
    revoked = send(gateway, "GET", "/api/v1/jobs", key="good")
    assert (revoked.status, body_of(revoked)) == (401, {"message": "Unauthorized"})


def test_key_over_its_rate_gets_too_many_requests(functions: Functions, clock: Clock) -> None:
    gateway = make_gateway(functions, clock, {"good": PlanLimits(rate=1.0, burst=2, daily_quota=None)})
    statuses = [send(gateway, "GET", "/api/v1/jobs", key="good").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = send(gateway, "GET", "/api/v1/jobs", key="good")
    assert body_of(throttled) == {"message": "Too Many Requests"}
    assert ("Retry-After", "1") in throttled.headers
    clock.now += 1
    assert send(gateway, "GET", "/api/v1/jobs", key="good").status == 200


def test_key_over_its_daily_quota_gets_limit_exceeded(functions: Functions, clock: Clock) -> None:
    gateway = make_gateway(functions, clock, {"good": PlanLimits(rate=100.0, burst=100, daily_quota=2)})
    responses = [send(gateway, "GET", "/api/v1/jobs", key="good") for _ in range(3)]
    assert [r.status for r in responses] == [200, 200, 429]
    assert body_of(responses[-1]) == {"message": "Limit Exceeded"}
    # The quota resets at midnight UTC; the clock stands 08:00 UTC, so 16 hours remain.
    assert ("Retry-After", str(16 * 3600)) in responses[-1].headers


def test_stage_throttle_applies_to_every_route(
    functions: Functions, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_module, "STAGE_BURST", 2)
    monkeypatch.setattr(gateway_module, "STAGE_RATE_PER_SECOND", 1.0)
    gateway = make_gateway(functions, clock)
    responses = [send(gateway, "GET", "/health") for _ in range(3)]
    assert [r.status for r in responses] == [200, 200, 429]
    assert ("Retry-After", "1") in responses[-1].headers


def test_function_exception_is_a_502_with_the_traceback_logged(
    functions: Functions, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = send(make_gateway(functions, clock), "POST", "/api/v1/jobs/j-1/boom", key="good")
    assert (response.status, body_of(response)) == (502, {"message": "Internal server error"})
    assert "kaboom" in caplog.text and "Traceback" in caplog.text


def test_missing_function_is_a_502(clock: Clock) -> None:
    gateway = Gateway(API, {}, None, lambda value: KeyInPlan("k", "p", ROOMY), clock=clock)
    assert send(gateway, "GET", "/api/v1/jobs", key="good").status == 502


def test_over_http_the_stage_prefix_is_optional_and_bodies_round_trip(
    functions: Functions, clock: Clock
) -> None:
    client = Client(make_gateway(functions, clock).wsgi_app)
    health = client.get("/prod/health")
    assert health.status_code == 200
    assert health.headers["Content-Length"] == str(len(health.data))
    assert health.headers["x-amzn-RequestId"]
    raw = b"\x89PNG\xff"
    binary = client.post(
        "/api/v1/jobs/j-1/binary", data=raw, headers={"x-api-key": "good"}, query_string="a=1&a=2"
    )
    assert binary.data == b"\x00\xff"
    event = functions.events[-1]
    assert base64.b64decode(event["body"]) == raw and event["isBase64Encoded"] is True
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert client.get("/api/v1/jobs").status_code == 401


def test_a_slow_tier_is_told_to_wait_until_its_bucket_refills(functions: Functions, clock: Clock) -> None:
    gateway = make_gateway(functions, clock, {"good": PlanLimits(rate=0.28, burst=1, daily_quota=None)})
    assert send(gateway, "GET", "/api/v1/jobs", key="good").status == 200
    throttled = send(gateway, "GET", "/api/v1/jobs", key="good")
    assert (throttled.status, dict(throttled.headers)["Retry-After"]) == (429, "4")


def test_headers_over_10_kb_get_431_with_the_envelope_before_any_key_check(
    functions: Functions, clock: Clock
) -> None:
    client = Client(make_gateway(functions, clock).wsgi_app)
    response = client.get("/api/v1/jobs", headers={"x-api-key": "good", "x-padding": "a" * 10_300})
    assert (response.status_code, response.headers["Content-Type"]) == (431, "application/json")
    error = response.get_json()["error"]
    assert (error["code"], error["details"][0]["field"]) == ("request_header_fields_too_large", "headers")
    assert functions.events == []
    assert (
        client.get("/api/v1/jobs", headers={"x-api-key": "good", "x-padding": "a" * 9_000}).status_code == 200
    )


class TokenAuthorizer:
    """Allows `Bearer good-token` as a user of tenant acme, counted against the tenant's usage key."""

    calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls += 1
        headers = {k.lower(): v for k, v in event["headers"].items()}
        if headers.get("authorization") != "Bearer good-token":
            raise Exception("Unauthorized")
        statement = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*"}
        return {
            "principalId": "user:alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {
                "tenant": "acme",
                "role": "viewer",
                "tier": "basic",
                "key_id": "user:alice",
                "kind": "user",
            },
            "usageIdentifierKey": "usage-acme",
        }


def test_a_bearer_token_is_counted_against_the_key_its_authorizer_names(
    functions: Functions, clock: Clock
) -> None:
    token_authorizer = TokenAuthorizer()
    one_a_day = PlanLimits(rate=100.0, burst=100, daily_quota=1)
    checked: list[str] = []

    def key_check(value: str) -> KeyInPlan | None:
        checked.append(value)
        return (
            KeyInPlan(key_id="key_usage", plan_name="jobsched-basic", limits=one_a_day)
            if value == "usage-acme"
            else None
        )

    gateway = Gateway(
        API,
        {"job_api": functions.job_api},
        CachingAuthorizer(token_authorizer, API.region, clock=clock),
        key_check,
        clock=clock,
    )

    def with_token(token: str) -> ProxyResponse:
        request = HttpRequest(
            "GET", "/api/v1/jobs", [("Authorization", token)], [], b"", "127.0.0.1", "req-1"
        )
        return gateway.handle(request)

    assert with_token("Bearer good-token").status == 200
    assert checked == ["usage-acme"]
    (event,) = functions.events
    assert event["requestContext"]["authorizer"]["key_id"] == "user:alice"
    # The tenant's quota (one a day) holds for its token callers, and a token's allow is not cached.
    assert with_token("Bearer good-token").status == 429
    assert token_authorizer.calls == 2
    assert with_token("Bearer forged").status == 401
