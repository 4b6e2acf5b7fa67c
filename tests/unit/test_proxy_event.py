"""The events the gateway builds and the proxy responses it reads back."""

from __future__ import annotations

import base64

import pytest

from jobsched_local.proxy_event import (
    ApiKeyIdentity,
    ApiStage,
    HttpRequest,
    MalformedProxyResponse,
    authorizer_event,
    method_arn,
    proxy_event,
    read_proxy_response,
)
from jobsched_local.routes import match_route

API = ApiStage(api_id="abc123", stage="prod", region="eu-west-1", account_id="123456789012")


def request(
    method: str = "GET",
    path: str = "/api/v1/jobs/j-1",
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    query: list[tuple[str, str]] | None = None,
) -> HttpRequest:
    return HttpRequest(
        method=method,
        path=path,
        headers=headers if headers is not None else [("X-Api-Key", "jsk_x"), ("Host", "127.0.0.1:8080")],
        query=query or [],
        body=body,
        source_ip="127.0.0.1",
        request_id="req-1",
        received_at=1_800_000_000.5,
    )


def test_method_arn_names_api_stage_method_and_path() -> None:
    assert method_arn(API, "GET", "/api/v1/jobs") == (
        "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/api/v1/jobs"
    )


def test_proxy_event_carries_route_identity_and_authorizer_context() -> None:
    req = request(query=[("status", "active"), ("tag", "a"), ("tag", "b")])
    match = match_route(req.method, req.path)
    assert match is not None
    event = proxy_event(
        req, match, API, ApiKeyIdentity("jsk_x", "awskey1"), {"tenant": "acme", "principalId": "k"}
    )
    assert event["resource"] == "/api/v1/jobs/{job_id}"
    assert event["path"] == "/api/v1/jobs/j-1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"job_id": "j-1"}
    assert event["queryStringParameters"] == {"status": "active", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"status": ["active"], "tag": ["a", "b"]}
    assert event["headers"]["X-Api-Key"] == "jsk_x"
    assert event["multiValueHeaders"]["Host"] == ["127.0.0.1:8080"]
    assert event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["path"] == "/prod/api/v1/jobs/j-1"
    assert context["resourcePath"] == "/api/v1/jobs/{job_id}"
    assert (context["stage"], context["apiId"], context["accountId"]) == ("prod", "abc123", "123456789012")
    assert context["requestId"] == "req-1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert (context["identity"]["apiKey"], context["identity"]["apiKeyId"]) == ("jsk_x", "awskey1")
    assert context["authorizer"] == {"tenant": "acme", "principalId": "k"}
    assert context["requestTimeEpoch"] == 1_800_000_000_500


def test_without_query_or_path_parameters_they_are_null() -> None:
    req = request(path="/health", headers=[])
    match = match_route("GET", "/health")
    assert match is not None
    event = proxy_event(req, match, API, None, None)
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["headers"] is None
    assert "authorizer" not in event["requestContext"]


def test_text_body_passes_as_is_and_binary_goes_base64() -> None:
    match = match_route("POST", "/api/v1/jobs")
    assert match is not None
    text = proxy_event(request("POST", "/api/v1/jobs", body='{"name":"é"}'.encode()), match, API, None, None)
    assert (text["body"], text["isBase64Encoded"]) == ('{"name":"é"}', False)
    raw = b"\xff\xfe\x00binary"
    binary = proxy_event(request("POST", "/api/v1/jobs", body=raw), match, API, None, None)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == raw


def test_authorizer_event_is_a_request_authorizer_event() -> None:
    req = request()
    match = match_route(req.method, req.path)
    assert match is not None
    event = authorizer_event(req, match, API)
    assert event["type"] == "REQUEST"
    assert event["methodArn"].endswith("abc123/prod/GET/api/v1/jobs/j-1")
    assert event["headers"]["X-Api-Key"] == "jsk_x"
    assert event["pathParameters"] == {"job_id": "j-1"}
    assert "body" not in event


def test_response_headers_and_multi_value_headers_are_merged() -> None:
    response = read_proxy_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "content-type": ["text/plain"]},
            "body": '{"ok":true}',
        }
    )
    assert response.status == 201
    assert response.headers == [
        ("Content-Type", "application/json"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    assert response.body == b'{"ok":true}'


def test_base64_response_body_is_decoded() -> None:
    body = base64.b64encode(b"\x00\x01").decode()
    assert read_proxy_response({"statusCode": 200, "body": body, "isBase64Encoded": True}).body == b"\x00\x01"


def test_missing_body_is_empty() -> None:
    assert read_proxy_response({"statusCode": 204}).body == b""


@pytest.mark.parametrize(
    "result",
    [
        "not a dict",
        {"statusCode": "abc"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_rejected(result: object) -> None:
    with pytest.raises(MalformedProxyResponse):
        read_proxy_response(result)
