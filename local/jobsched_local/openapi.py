"""The API contract, generated from the API functions' code and committed as docs/openapi.json.

Each API function's Powertools resolver describes its routes; this merges them into one document, swaps
Powertools' own 422 schema for the service's error envelope, and adds what API Gateway itself answers
(GET /health and GET /health/deep without a key, 401/403/429 from the key check, authorizer and usage plan,
429's Retry-After, WAF's per-IP 429, 431 for headers over 10 KB) and the raw-request checks every route has
(400; 413/415/422 for a body).
`python -m jobsched_local.openapi` rewrites the file; `--check` fails when the code and the file differ.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from jobsched import __version__, config
from jobsched.api.routes import ANY, ROUTES, route_functions

# The functions behind the keyed routes; each documents its own operations (Powertools resolver).
API_FUNCTIONS: tuple[str, ...] = route_functions(key_required=True)
CONTRACT_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TITLE = "Job Scheduler API"
_POWERTOOLS_ONLY_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
_GATEWAY_MESSAGE = {
    "type": "object",
    "properties": {"message": {"type": ["string", "null"]}, "Message": {"type": "string"}},
    "anyOf": [{"required": ["message"]}, {"required": ["Message"]}],
    "description": "API Gateway's own answer (key check, authorizer, throttling, quota); an authorizer's "
    "Deny is spelled with a capital M, as API Gateway sends it",
}
_GATEWAY_RESPONSES = {
    "401": "Missing, unknown or revoked API key; or a bearer token that is expired, tampered or not trusted",
    "403": "The authorizer denied the caller, or its role or token scopes may not do this",
    "429": "Too Many Requests (tier rate or burst) or Limit Exceeded (daily quota); Retry-After says when",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}
# What any route may answer before its own logic runs (the raw-request checks, the header limit), and
# what a route that is not a GET may answer about a body it was sent (any route refuses unknown fields).
_EVERY_ROUTE = {
    "400": "Malformed request: control characters in the path, a body that is not JSON or nests too deeply",
    "431": "Request headers larger than API Gateway's 10 KB",
}
_BODY_ROUTES = {
    "413": "Request body larger than 256 KB",
    "415": "Content-Type is not application/json",
    "422": "A field is invalid or unknown; details name it",
}


def build_contract() -> dict[str, Any]:
    os.environ.setdefault("AWS_REGION", config.PRIMARY_REGION)  # the modules build clients at import
    contract: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": __version__,
            "description": "Define, schedule and observe jobs. Every /api/v1 route needs an x-api-key, or a "
            "bearer token (a user's ID token or an OAuth 2.0 client-credentials access token).",
        },
        "servers": [
            {"url": "http://127.0.0.1:8080", "description": "local runtime"},
            {"url": f"https://{{api_id}}.execute-api.{{region}}.amazonaws.com/{config.API_STAGE}"},
        ],
        "paths": {"/health": _health_path(), config.DEEP_HEALTH_PATH: _deep_health_path()},
        "components": {
            "schemas": {"GatewayMessage": _GATEWAY_MESSAGE, "DeepHealth": _DEEP_HEALTH},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": config.API_KEY_HEADER},
                "BearerToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
        "security": [{"ApiKey": []}, {"BearerToken": []}],
    }
    for name in API_FUNCTIONS:
        module = importlib.import_module(f"functions.{name}.handler")
        document = json.loads(module.app.get_openapi_json_schema(title=TITLE, version=__version__))
        for path, operations in document.get("paths", {}).items():
            if path in contract["paths"]:
                raise ValueError(f"{path} is served by two functions")
            _check_routed(name, path, operations)
            contract["paths"][path] = operations
        contract["components"]["schemas"].update(document.get("components", {}).get("schemas", {}))
    contract["components"]["schemas"]["DeepHealthCheck"] = _CHECK_RESULT
    for name in _POWERTOOLS_ONLY_SCHEMAS:
        contract["components"]["schemas"].pop(name, None)
    for path, operations in contract["paths"].items():
        if path.startswith("/api/"):
            for method, operation in operations.items():
                _use_service_envelope(method, operation)
    return contract


def _check_routed(function: str, path: str, operations: dict[str, Any]) -> None:
    """Every operation a function documents is a route of the table that sends it to that function."""
    routed = {(r.method, r.resource) for r in ROUTES if r.function == function and r.method != ANY}
    for method in operations:
        if (method.upper(), path) not in routed:
            raise ValueError(f"{function} documents {method.upper()} {path}, which no route sends to it")


def _use_service_envelope(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    envelope_ref = {"$ref": "#/components/schemas/ErrorEnvelope"}
    gateway_ref = {"$ref": "#/components/schemas/GatewayMessage"}
    if "422" in responses:
        responses["422"] = {"description": _BODY_ROUTES["422"], "content": _json(envelope_ref)}
    extra = {**_EVERY_ROUTE, **(_BODY_ROUTES if method != "get" else {})}
    for status, description in extra.items():
        responses.setdefault(status, {"description": description, "content": _json(envelope_ref)})
    for status, description in _GATEWAY_RESPONSES.items():
        if status == "403" and "403" in responses:
            # The route's own 403 (the role may not write) or the gateway's (the authorizer denied).
            schema: dict[str, Any] = {"anyOf": [envelope_ref, gateway_ref]}
            responses[status] = {"description": description, "content": _json(schema)}
        else:
            responses.setdefault(status, {"description": description, "content": _json(gateway_ref)})
    responses["429"]["headers"] = copy.deepcopy(_RETRY_AFTER)
    _add_per_ip_limit(responses["429"])
    if "204" in responses:
        responses["204"].pop("content", None)  # no body, so no Content-Type
    operation["responses"] = dict(sorted(responses.items()))
    _optional_body_without_null(operation)


def _optional_body_without_null(operation: dict[str, Any]) -> None:
    """An optional body is declared as `X | None`; on the wire that is no body at all, not JSON null."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        members = media.get("schema", {}).get("anyOf", [])
        if {"type": "null"} in members:
            kept = [member for member in members if member != {"type": "null"}]
            media["schema"] = kept[0] if len(kept) == 1 else {"anyOf": kept}
            operation["requestBody"]["required"] = False


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": copy.deepcopy(schema)}}


def _add_per_ip_limit(response: dict[str, Any]) -> None:
    """WAF's per-IP limit answers 429 too, before any key check: the service's envelope and Retry-After."""
    content = response.setdefault("content", {}).setdefault("application/json", {})
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    schema = content.get("schema")
    content["schema"] = {"oneOf": [schema, envelope]} if schema else envelope
    rate = config.PER_IP_RATE_PER_SECOND
    response["description"] += f"; or more than {rate} requests/s from one IP address (error envelope)"
    response.setdefault("headers", {}).setdefault(
        "Retry-After",
        {"description": "seconds to wait before retrying", "schema": {"type": "integer"}},
    )


def _health_path() -> dict[str, Any]:
    return {
        "get": {
            "summary": "Service health (no API key)",
            "operationId": "health",
            "security": [],
            "responses": {
                "200": {
                    "description": "The service is up",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "status": {"type": "string", "const": "ok"},
                                    "version": {"type": "string"},
                                    "region": {"type": "string"},
                                },
                                "required": ["status", "version", "region"],
                            }
                        }
                    },
                },
                "429": {
                    "description": "Too Many Requests (the stage's throttle); Retry-After says when",
                    "headers": copy.deepcopy(_RETRY_AFTER),
                    "content": _json({"$ref": "#/components/schemas/GatewayMessage"}),
                },
                "431": {
                    "description": _EVERY_ROUTE["431"],
                    "content": _json({"$ref": "#/components/schemas/ErrorEnvelope"}),
                },
            },
        }
    }


_CHECK_RESULT = {
    "type": "object",
    "properties": {
        "ok": {"type": "boolean"},
        "ms": {"type": "number", "description": "how long the check took, in milliseconds"},
        "reason": {"type": "string", "description": "why it failed: an error code, a timeout, the drill"},
    },
    "required": ["ok", "ms"],
}
_DEEP_HEALTH = {
    "type": "object",
    "description": "Per-check results of the region's dependencies",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unhealthy"]},
        "region": {"type": ["string", "null"]},
        "version": {"type": ["string", "null"]},
        "checked_at": {"type": "string", "format": "date-time"},
        "cached": {"type": "boolean", "description": "the verdict is at most a few seconds old"},
        "checks": {
            "type": "object",
            "description": "settings, table, queue and drill (drill only when the table answered)",
            "additionalProperties": {"$ref": "#/components/schemas/DeepHealthCheck"},
        },
        "failed": {"type": "array", "items": {"type": "string"}, "description": "the checks that failed"},
    },
    "required": ["status", "region", "version", "checked_at", "cached", "checks", "failed"],
}


def _deep_health_path() -> dict[str, Any]:
    document = {"application/json": {"schema": {"$ref": "#/components/schemas/DeepHealth"}}}
    return {
        "get": {
            "summary": "Can this region serve requests? (no API key; Route 53's health checks call it)",
            "description": "Loads the settings, reads one item of the jobs table, asks the execution queue "
            "for its attributes and looks for an operator's drill marker; the verdict is cached for a "
            "few seconds.",
            "operationId": "deep_health",
            "security": [],
            "responses": {
                "200": {"description": "Every check passed", "content": document},
                "503": {
                    "description": "A check failed; `failed` names it",
                    "content": copy.deepcopy(document),
                },
            },
        }
    }


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobsched_local.openapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/openapi.json is not up to date")
    parser.add_argument("--path", type=Path, default=CONTRACT_PATH, help="where the contract lives")
    args = parser.parse_args(argv)
    text = render(build_contract())
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is out of date: run `make openapi` and review the diff", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
