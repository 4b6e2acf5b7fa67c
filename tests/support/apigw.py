"""REST API (proxy v1) events as API Gateway hands them to a function after the authorizer allowed them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4


def rest_event(
    method: str,
    path: str,
    *,
    tenant: str = "acme",
    role: str = "admin",
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    key_id: str = "key_test",
    scopes: list[str] | None = None,
    tags: list[tuple[str, str]] | None = None,
    kind: str = "key",
) -> dict[str, Any]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if raw_body is None and body is not None:
        raw_body = json.dumps(body)
    return {
        "resource": resource_of(method, path),
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "body": raw_body,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": str(uuid4()),
            "stage": "prod",
            "httpMethod": method,
            "path": f"/prod{path}",
            "authorizer": {
                "tenant": tenant,
                "role": role,
                "tier": "premium",
                "key_id": key_id,
                "principalId": key_id,
                "kind": kind,
                "scopes": json.dumps(scopes) if scopes is not None else "",
                "tags": json.dumps([list(pair) for pair in tags]) if tags else "",
            },
        },
    }


def resource_of(method: str, path: str) -> str:
    """The resource template API Gateway names in the event (e.g. /api/v1/jobs/{job_id})."""
    from jobsched_local.routes import match_route

    match = match_route(method, path.split("?")[0])
    return match.route.resource if match is not None else path


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    """Single-valued view of a proxy response's headers, whichever form the function used."""
    merged = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged[name.lower()] = values[-1]
    return merged


Reply = tuple[int, dict[str, str], Any]


def api_caller(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[..., Reply]:
    """Call a function's handler as API Gateway would: (status, headers, parsed JSON body or None).

    A request without a body carries no Content-Type, as a client sends it."""

    def invoke(method: str, path: str, **kwargs: Any) -> Reply:
        event = rest_event(method, path, **kwargs)
        if kwargs.get("body") is None and kwargs.get("raw_body") is None:
            event["headers"].pop("Content-Type")
        response = handler(event, None)
        body = response.get("body")
        return response["statusCode"], headers_of(response), json.loads(body) if body else None

    return invoke
