"""The HTTP edge of the API functions: one error envelope, one mapping of domain errors to status codes.

Every 4xx and 5xx body is {"error": {"code", "message", "details": [{"field", "message"}], "request_id"}}.
Checks that must happen on the raw request (size, content type, bytes that are not UTF-8, JSON that
does not parse or is not an object) run before Powertools parses it, so bad input never turns into a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from jobsched import config
from jobsched.api.auth import Principal, principal_from_context
from jobsched.api.permissions import authorize_route
from jobsched.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    LimitExceeded,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    Unauthorized,
    UnsupportedMediaType,
)

MAX_REQUEST_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32  # no request body of this API nests deeper than a few levels
JSON_CONTENT_TYPE = "application/json"
PER_IP_LIMIT_CODE = "too_many_requests"
# Methods whose body means nothing here: dropped before Powertools reads it (whatever its Content-Type).
_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CONTROL_CHARACTERS = frozenset(chr(c) for c in range(0x20)) | {"\x7f"}

STATUS_OF: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LimitExceeded: 409,
    PreconditionFailed: 412,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
}


def status_of(error: DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 400


def error_document(
    code: str, message: str, details: Sequence[Mapping[str, Any]] = (), request_id: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "details": list(details)}
    if request_id:
        error["request_id"] = request_id
    return {"error": error}


def error_response(status: int, document: dict[str, Any]) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=JSON_CONTENT_TYPE,
        body=json.dumps(document, separators=(",", ":")),
    )


def per_ip_limit_body() -> str:
    """The edge's 429 for a client over the per-IP limit: WAF's custom response and the local gateway's.

    Static, because WAF's custom response body cannot carry a request id; sent with Retry-After.
    """
    rate, wait = config.PER_IP_RATE_PER_SECOND, config.PER_IP_RETRY_AFTER_SECONDS
    document = error_document(
        PER_IP_LIMIT_CODE,
        f"more than {rate} requests per second from this IP address; retry after {wait} seconds",
        [{"field": "source_ip", "message": f"sends more than {rate} requests per second"}],
    )
    return json.dumps(document, separators=(",", ":"))


def proxy_error(status: int, error: DomainError, request_id: str | None) -> dict[str, Any]:
    """A complete Lambda proxy response, for errors found before the resolver runs."""
    document = error_document(error.code, error.message, error.details, request_id)
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON_CONTENT_TYPE},
        "body": json.dumps(document, separators=(",", ":")),
    }


def check_raw_request(event: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse what Powertools would choke on; the event to resolve, with a meaningless body dropped.

    Control characters in the path; a body that is too large, not JSON (whatever the Content-Type
    says, on any route), not UTF-8, nested too deeply or not a JSON object. A request without a body, or
    a GET, reaches Powertools without body and Content-Type, so a stray `multipart/form-data` on a DELETE
    is never parsed.
    """
    path = str(event.get("path") or "")
    if any(ch in _CONTROL_CHARACTERS for ch in path):
        raise BadRequest.field("path", "must not contain control characters")
    method = str(event.get("httpMethod", "")).upper()
    data = _raw_body(event)
    if not data or method in _BODILESS_METHODS:
        return _without_body(event)
    if len(data) > MAX_REQUEST_BYTES:
        raise PayloadTooLarge(f"request body is {len(data)} bytes; the most accepted is {MAX_REQUEST_BYTES}")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON_CONTENT_TYPE:
        raise UnsupportedMediaType(
            f"Content-Type must be {JSON_CONTENT_TYPE}, not '{content_type or 'missing'}'",
            [{"field": "Content-Type", "message": f"must be {JSON_CONTENT_TYPE}"}],
        )
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest.field("body", "is not UTF-8 text") from None
    except RecursionError:
        raise BadRequest.field("body", f"nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise BadRequest.field("body", f"is not valid JSON ({exc})") from None
    if _depth(document) > MAX_JSON_DEPTH:
        raise BadRequest.field("body", f"nests deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(document, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return dict(event)


def _raw_body(event: Mapping[str, Any]) -> bytes:
    raw = event.get("body")
    if raw is None:
        return b""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest.field("body", "is not valid base64") from None
    return str(raw).encode("utf-8", "surrogatepass")


def _without_content_type(headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if headers is None:
        return None
    return {k: v for k, v in headers.items() if str(k).lower() != "content-type"}


def _without_body(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **event,
        "body": None,
        "isBase64Encoded": False,
        "headers": _without_content_type(event.get("headers")),
        "multiValueHeaders": _without_content_type(event.get("multiValueHeaders")),
    }


def _depth(document: Any) -> int:
    """How deeply a parsed JSON document nests (iteratively: no recursion to exhaust)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, level = pending.pop()
        if isinstance(value, dict):
            deepest = max(deepest, level)
            pending.extend((item, level + 1) for item in value.values())
        elif isinstance(value, list):
            deepest = max(deepest, level)
            pending.extend((item, level + 1) for item in value)
    return deepest


def create_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[Any]:
        return error_response(
            status_of(error), error_document(error.code, error.message, error.details, _rid(app))
        )

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response[Any]:
        details = [_detail(item) for item in error.errors()]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details) or "invalid request"
        return error_response(422, error_document(InvalidInput.code, message, details, _rid(app)))

    @app.not_found
    def _no_route(error: NotFoundError) -> Response[Any]:
        event = app.current_event
        message = f"no route {event.http_method} {event.path}"
        return error_response(404, error_document(NotFound.code, message, (), _rid(app)))

    return app


def principal_of(app: APIGatewayRestResolver) -> Principal:
    """The caller, as the authorizer established it (never from the request itself)."""
    authorizer = (app.current_event.get("requestContext") or {}).get("authorizer")
    return principal_from_context(authorizer)


def request_guard(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve an event, after the raw-request checks that Powertools does not do."""
    try:
        checked = check_raw_request(event)
        authorize_request(checked)
    except DomainError as error:
        request_id = (event.get("requestContext") or {}).get("requestId")
        return proxy_error(status_of(error), error, request_id)
    return without_content_on_204(app.resolve(checked, context))


def authorize_request(event: Mapping[str, Any]) -> None:
    """The route's roles and scope (jobsched.api.permissions), for every request an authorizer admitted."""
    authorizer = (event.get("requestContext") or {}).get("authorizer")
    if not authorizer:
        return  # a route without the authorizer (none of these functions' routes): the handler decides
    principal = principal_from_context(authorizer)
    authorize_route(principal, str(event.get("httpMethod", "")), str(event.get("resource", "")))


def without_content_on_204(response: dict[str, Any]) -> dict[str, Any]:
    """A 204 has no body, so no Content-Type either (Powertools would send one, and a body of 'null')."""
    if response.get("statusCode") != 204:
        return response
    return {
        **response,
        "body": "",
        "isBase64Encoded": False,
        "headers": _without_content_type(response.get("headers")),
        "multiValueHeaders": _without_content_type(response.get("multiValueHeaders")),
    }


def _rid(app: APIGatewayRestResolver) -> str | None:
    request_id = (app.current_event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else None


def _detail(item: Mapping[str, Any]) -> dict[str, str]:
    # Here, not at import: the identity API has no job models to load, and only a 422 gets this far.
    from jobsched.jobs.models import TARGET_TYPES

    location = [str(part) for part in item.get("loc", ())]
    if location and location[0] in ("body", "query", "path", "header", "headers"):
        location = location[1:]
    if len(location) > 1 and location[0] == "target" and location[1] in TARGET_TYPES:
        del location[1]  # pydantic names the union member; callers know the field as target.<name>
    message = str(item.get("msg", "invalid value")).removeprefix("Value error, ")
    return {"field": ".".join(location) or "body", "message": message}


def with_empty_json_body(event: dict[str, Any]) -> dict[str, Any]:
    """For POST routes whose body is optional: no body counts as {} (the raw checks want a JSON object)."""
    if event.get("body") not in (None, ""):
        return event
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "body": "{}",
        "isBase64Encoded": False,
        "headers": {**headers, "content-type": JSON_CONTENT_TYPE},
    }
