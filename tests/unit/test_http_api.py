"""Raw-request checks and the error envelope: bad input is a 4xx with a JSON body, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from jobsched.api.http_api import (
    MAX_REQUEST_BYTES,
    check_raw_request,
    proxy_error,
    status_of,
    without_content_on_204,
)
from jobsched.errors import (
    BadRequest,
    Conflict,
    DomainError,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)


def event(
    body: Any, *, content_type: str | None = "application/json", b64: bool = False, method: str = "POST"
) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {
        "httpMethod": method,
        "path": "/api/v1/jobs",
        "headers": headers,
        "body": body,
        "isBase64Encoded": b64,
    }


@pytest.mark.parametrize(
    ("raw", "kwargs", "error"),
    [
        ("{", {}, BadRequest),
        ('{"a": 1', {}, BadRequest),
        ("1" * 5000, {}, BadRequest),  # an integer too long to parse safely
        ("[1, 2]", {}, InvalidInput),
        ("null", {}, InvalidInput),
        ('"text"', {}, InvalidInput),
        ("[" * 10_000 + "]" * 10_000, {}, BadRequest),  # RecursionError inside the JSON parser
        ('{"a":' * 40 + "1" + "}" * 40, {}, BadRequest),  # parses, but deeper than any body of this API
        ("{}", {"content_type": "text/plain"}, UnsupportedMediaType),
        ('{"note": ""}', {"content_type": "multipart/form-data", "method": "DELETE"}, UnsupportedMediaType),
        ("{}", {"content_type": "application/x-www-form-urlencoded", "method": "PUT"}, UnsupportedMediaType),
        ("{}", {"content_type": None}, UnsupportedMediaType),
        (base64.b64encode(b"\xff\xfe{}").decode(), {"b64": True}, BadRequest),
        ("!!!not-base64", {"b64": True}, BadRequest),
        ("{" + " " * MAX_REQUEST_BYTES + "}", {}, PayloadTooLarge),
    ],
)
def test_bad_raw_requests_are_refused(raw: Any, kwargs: dict[str, Any], error: type[DomainError]) -> None:
    with pytest.raises(error):
        check_raw_request(event(raw, **kwargs))


def test_good_requests_and_bodiless_methods_pass() -> None:
    good = event('{"name": "x"}', content_type="application/json; charset=utf-8")
    assert check_raw_request(good) == good
    check_raw_request(event(base64.b64encode(b'{"a": 1}').decode(), b64=True))
    check_raw_request(event(None, content_type=None, method="GET"))
    check_raw_request(event(None, content_type=None, method="DELETE"))


@pytest.mark.parametrize(
    ("method", "body", "content_type"),
    [
        ("DELETE", None, "multipart/form-data"),  # no boundary, no body: nothing for Powertools to parse
        ("POST", "", "multipart/form-data; boundary="),
        ("GET", "<xml/>", "application/xml"),  # a GET's body means nothing: dropped, whatever it is
        ("GET", "{" * 50_000, "application/json"),
    ],
)
def test_a_request_without_a_meaningful_body_reaches_the_resolver_without_body_or_content_type(
    method: str, body: str | None, content_type: str
) -> None:
    raw = event(body, content_type=content_type, method=method)
    raw["multiValueHeaders"] = {"Content-Type": [content_type], "x-api-key": ["k"]}
    checked = check_raw_request(raw)
    assert (checked["body"], checked["headers"], checked["multiValueHeaders"]) == (
        None,
        {},
        {"x-api-key": ["k"]},
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/jobs/a\nb", "/api/v1/jobs/\x00", "/api/v1/jobs/x\x7f", "/api/v1/jobs/\t"]
)
def test_control_characters_in_the_path_are_400_naming_the_path(path: str) -> None:
    raw = {**event(None, method="GET"), "path": path.encode().decode("unicode_escape")}
    with pytest.raises(BadRequest) as caught:
        check_raw_request(raw)
    assert caught.value.details == [{"field": "path", "message": "must not contain control characters"}]


def test_a_204_carries_no_body_and_no_content_type() -> None:
    response = {
        "statusCode": 204,
        "headers": {"Content-Type": "application/json", "ETag": '"3"'},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "body": "null",
        "isBase64Encoded": False,
    }
    stripped = without_content_on_204(response)
    assert (stripped["body"], stripped["headers"], stripped["multiValueHeaders"]) == ("", {"ETag": '"3"'}, {})
    ok = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
    assert without_content_on_204(ok) == ok


def test_status_codes_of_domain_errors() -> None:
    assert status_of(BadRequest("x")) == 400
    assert status_of(NotFound("x")) == 404
    assert status_of(Conflict("x")) == 409
    assert status_of(LimitExceeded("x")) == 409
    assert status_of(PayloadTooLarge("x")) == 413
    assert status_of(InvalidInput("x")) == 422
    assert status_of(DomainError("x")) == 400


def test_envelope_names_the_field() -> None:
    response = proxy_error(
        415, UnsupportedMediaType.field("Content-Type", "must be application/json"), "req-1"
    )
    body = json.loads(response["body"])
    assert response["statusCode"] == 415
    assert body == {
        "error": {
            "code": "unsupported_media_type",
            "message": "Content-Type: must be application/json",
            "details": [{"field": "Content-Type", "message": "must be application/json"}],
            "request_id": "req-1",
        }
    }
