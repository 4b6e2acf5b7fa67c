"""Identity API (tenant admins): the tenant's API keys and OAuth clients, and the audit of their management.

POST/GET /api/v1/keys, DELETE /api/v1/keys/{key_id}; POST/GET /api/v1/clients,
DELETE /api/v1/clients/{client_id}; GET /api/v1/audit. Thin: parse, call, shape.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from jobsched.api.http_api import JSON_CONTENT_TYPE, create_resolver, principal_of, request_guard
from jobsched.api.identity_models import (
    AuditList,
    ClientCreated,
    ClientList,
    ClientRequest,
    ClientView,
    KeyCreated,
    KeyList,
    KeyRequest,
    KeyView,
)
from jobsched.api.models import NoFields, responses
from jobsched.aws.clients import client, deferred_client
from jobsched.keys.adapters.audit_log import DynamoAuditLog
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_registry import ApiGatewayKeyRegistry
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.keys.admin import TenantAdmin
from jobsched.keys.clients import ClientRegistry, ClientService, LocalClientRegistry
from jobsched.keys.models import KeyService
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_api

SETTINGS = load_settings()


def _client_registry() -> ClientRegistry | None:
    if SETTINGS.oauth_clients == "local":
        return LocalClientRegistry()
    if SETTINGS.oauth_clients == "cognito" and SETTINGS.token_settings_parameter:
        from jobsched.keys.adapters.cognito_clients import CognitoClientRegistry

        region = SETTINGS.token_settings_region or SETTINGS.region
        return CognitoClientRegistry(deferred_client("cognito-idp", region), _user_pool_id)
    return None


def _user_pool_id() -> str:
    """The primary region's user pool: the last segment of the issuer its stack published."""
    import json

    region = SETTINGS.token_settings_region or SETTINGS.region
    parameter = client("ssm", region).get_parameter(Name=SETTINGS.token_settings_parameter)
    return str(json.loads(parameter["Parameter"]["Value"])["issuer"]).rstrip("/").rsplit("/", 1)[1]


_REGISTRY = _client_registry()
ADMIN = TenantAdmin(
    KeyService(
        DynamoKeyStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
        [ApiGatewayKeyRegistry(deferred_client("apigateway", region), region) for region in SETTINGS.regions],
    ),
    ClientService(DynamoClientStore(deferred_client("dynamodb"), SETTINGS.jobs_table), _REGISTRY)
    if _REGISTRY
    else None,
    DynamoAuditLog(deferred_client("dynamodb"), SETTINGS.jobs_table),
)
app = create_resolver()


def _created(body: dict[str, Any], location: str) -> Response[Any]:
    return Response(
        status_code=201, content_type=JSON_CONTENT_TYPE, body=body, headers={"Location": location}
    )


@app.post(
    "/api/v1/keys",
    summary="Create an API key of this tenant, in the caller's tier (admin)",
    responses=responses(201, "The key, with its value shown only here", KeyCreated, 403, 413, 415, 422),
)
def create_key(request: Annotated[KeyRequest, Body()]) -> Response[KeyCreated]:
    record, value = ADMIN.create_key(principal_of(app), request.role, dict(request.tags))
    body = KeyCreated(**KeyView.of(record).model_dump(), value=value).model_dump(mode="json")
    return _created(body, f"/api/v1/keys/{record.key_id}")


@app.get(
    "/api/v1/keys",
    summary="List this tenant's API keys (admin)",
    responses=responses(200, "Keys", KeyList, 403),
)
def list_keys() -> KeyList:
    return KeyList(items=[KeyView.of(record) for record in ADMIN.list_keys(principal_of(app))])


@app.delete(
    "/api/v1/keys/<key_id>",
    summary="Revoke an API key of this tenant in every region (admin)",
    responses=responses(204, "Revoked", None, 403, 404, 409),
)
def revoke_key(key_id: str, _body: Annotated[NoFields | None, Body()] = None) -> Response[None]:
    ADMIN.revoke_key(principal_of(app), key_id)
    return Response(status_code=204, body=None)


@app.post(
    "/api/v1/clients",
    summary="Create an OAuth 2.0 client (client credentials) of this tenant (admin)",
    responses=responses(
        201, "The client, with its secret shown only here", ClientCreated, 403, 404, 413, 415, 422
    ),
)
def create_client(request: Annotated[ClientRequest, Body()]) -> Response[ClientCreated]:
    record, secret = ADMIN.create_client(
        principal_of(app), request.role, tuple(request.scopes), dict(request.tags)
    )
    body = ClientCreated(**ClientView.of(record).model_dump(), client_secret=secret).model_dump(mode="json")
    return _created(body, f"/api/v1/clients/{record.client_id}")


@app.get(
    "/api/v1/clients",
    summary="List this tenant's OAuth clients (admin)",
    responses=responses(200, "Clients", ClientList, 403, 404),
)
def list_clients() -> ClientList:
    return ClientList(items=[ClientView.of(record) for record in ADMIN.list_clients(principal_of(app))])


@app.delete(
    "/api/v1/clients/<client_id>",
    summary="Revoke an OAuth client of this tenant: its tokens stop working at once (admin)",
    responses=responses(204, "Revoked", None, 403, 404),
)
def revoke_client(client_id: str, _body: Annotated[NoFields | None, Body()] = None) -> Response[None]:
    ADMIN.revoke_client(principal_of(app), client_id)
    return Response(status_code=204, body=None)


@app.get(
    "/api/v1/audit",
    summary="Key and client management of this tenant, newest first (admin)",
    responses=responses(200, "A page of audit records", AuditList, 400, 403, 422),
)
def list_audit(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[str | None, Query(max_length=2048)] = None,
) -> AuditList:
    items, token = ADMIN.audit(principal_of(app), limit, next_token)
    return AuditList(items=items, next_token=token)


@instrument_api
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return request_guard(app, event, context)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
