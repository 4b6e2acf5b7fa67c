"""Events API Gateway sends to Lambda (REQUEST authorizer, REST proxy v1) and the proxy response it reads."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobsched_local.routes import RouteMatch


@dataclass(frozen=True)
class ApiStage:
    """The REST API and stage a request arrives at, in the serving region."""

    api_id: str
    stage: str
    region: str
    account_id: str


@dataclass(frozen=True)
class HttpRequest:
    """A request as the gateway received it, before API Gateway's shaping."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str
    received_at: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return values[-1] if values else None


@dataclass(frozen=True)
class ApiKeyIdentity:
    value: str
    key_id: str


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class MalformedProxyResponse(ValueError):
    """The handler returned something API Gateway cannot turn into a response (it answers 502)."""


def method_arn(api: ApiStage, method: str, path: str) -> str:
    resource = f"{api.api_id}/{api.stage}/{method}/{path.lstrip('/')}"
    return f"arn:aws:execute-api:{api.region}:{api.account_id}:{resource}"


def authorizer_event(request: HttpRequest, match: RouteMatch, api: ApiStage) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": method_arn(api, request.method, request.path),
        **_request_fields(request, match),
        "requestContext": _request_context(request, match, api, identity=None, authorizer=None),
    }


def proxy_event(
    request: HttpRequest,
    match: RouteMatch,
    api: ApiStage,
    identity: ApiKeyIdentity | None,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    body, is_base64 = encode_body(request.body)
    return {
        **_request_fields(request, match),
        "requestContext": _request_context(request, match, api, identity, authorizer),
        "body": body,
        "isBase64Encoded": is_base64,
    }


def encode_body(raw: bytes) -> tuple[str | None, bool]:
    """Text bodies pass as they are; bytes that are not UTF-8 go base64-encoded, flagged for the handler."""
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def read_proxy_response(result: Any) -> ProxyResponse:
    if not isinstance(result, Mapping):
        raise MalformedProxyResponse(f"handler returned {type(result).__name__}, not a dict")
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError) as exc:
        raise MalformedProxyResponse(f"statusCode {result.get('statusCode')!r} is not a number") from exc
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    single = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        # A header in both maps is sent once, from `headers`, as API Gateway does.
        if str(name).lower() not in single:
            headers.extend((str(name), str(value)) for value in values)
    return ProxyResponse(status=status, headers=headers, body=_decode_body(result))


def _decode_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedProxyResponse("isBase64Encoded is set but body is not base64") from exc
    return body.encode("utf-8")


def _request_fields(request: HttpRequest, match: RouteMatch) -> dict[str, Any]:
    headers, multi_headers = _single_and_multi(request.headers)
    query, multi_query = _single_and_multi(request.query)
    return {
        "resource": match.route.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
    }


def _request_context(
    request: HttpRequest,
    match: RouteMatch,
    api: ApiStage,
    identity: ApiKeyIdentity | None,
    authorizer: Mapping[str, Any] | None,
) -> dict[str, Any]:
    received = datetime.fromtimestamp(request.received_at, tz=UTC)
    context: dict[str, Any] = {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": request.header("host") or "127.0.0.1",
        "extendedRequestId": request.request_id,
        "httpMethod": request.method,
        "identity": {
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent"),
            "apiKey": identity.value if identity else None,
            "apiKeyId": identity.key_id if identity else None,
        },
        "path": f"/{api.stage}{request.path}",
        "protocol": "HTTP/1.1",
        "requestId": request.request_id,
        "requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "requestTimeEpoch": int(request.received_at * 1000),
        "resourceId": "local",
        "resourcePath": match.route.resource,
        "stage": api.stage,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def _single_and_multi(
    pairs: list[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """API Gateway's two views of repeated names: the last value, and all values; None when there are none."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi
