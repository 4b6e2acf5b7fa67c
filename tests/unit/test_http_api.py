"""Raw-request checks and the error envelope: bad input is a 4xx with a JSON body, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

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
from jobsched.http_api import MAX_REQUEST_BYTES, check_raw_request, proxy_error, status_of


def event(
    body: Any, *, content_type: str | None = "application/json", b64: bool = False, method: str = "POST"
) -> dict[str, Any]:
    headers = {"Content-Type": content_type} if content_type else {}
    return {"httpMethod": method, "headers": headers, "body": body, "isBase64Encoded": b64}


@pytest.mark.parametrize(
    ("raw", "kwargs", "error"),
    [
        ("{", {}, BadRequest),
        ('{"a": 1', {}, BadRequest),
        ("1" * 5000, {}, BadRequest),  # an integer too long to parse safely
        ("[1, 2]", {}, InvalidInput),
        ("null", {}, InvalidInput),
        ('"text"', {}, InvalidInput),
        (None, {}, BadRequest),
        ("{}", {"content_type": "text/plain"}, UnsupportedMediaType),
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
    check_raw_request(event('{"name": "x"}', content_type="application/json; charset=utf-8"))
    check_raw_request(event(base64.b64encode(b'{"a": 1}').decode(), b64=True))
    check_raw_request(event(None, content_type=None, method="GET"))
    check_raw_request(event(None, content_type=None, method="DELETE"))


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
