"""REQUEST authorizer: an API key (x-api-key) or a bearer token (Authorization) to tenant, role and tier.

The answer names the API key API Gateway's usage plans count the request against (the API's key source
is the authorizer): the presented key, or the tenant's usage key for a token caller.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import TYPE_CHECKING, Any

from jobsched.api.auth import Principal, allow_policy, authenticate
from jobsched.aws.clients import client, deferred_client
from jobsched.config import API_KEY_HEADER
from jobsched.errors import Unauthorized
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.settings import load_settings
from jobsched.telemetry import (
    AuthorizerDecision,
    bind,
    instrument_handler,
    logger,
    record_authorizer_decision,
)

if TYPE_CHECKING:
    from jobsched.api.tokens import TokenVerifier

SETTINGS = load_settings()
KEYS = DynamoKeyStore(deferred_client("dynamodb"), SETTINGS.jobs_table)
CLIENTS = DynamoClientStore(deferred_client("dynamodb"), SETTINGS.jobs_table)
_VERIFIER: list[TokenVerifier] = []  # made on the first bearer token; its JWKS is cached with it


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    key_value = headers.get(API_KEY_HEADER)
    try:
        if not key_value and headers.get("authorization"):
            principal, usage_key = _token_caller(str(headers["authorization"]))
        else:
            principal, usage_key = authenticate(key_value, KEYS), str(key_value)
    except Unauthorized as refused:
        # The reason only ("missing", "unknown or revoked", "expired"): no credential is ever logged.
        logger.info("caller refused", extra={"reason": str(refused)})
        record_authorizer_decision(AuthorizerDecision.DENIED)
        # API Gateway answers 401 only for this exact error message from an authorizer.
        raise Exception("Unauthorized") from None
    bind(tenant=principal.tenant, key_id=principal.key_id)
    logger.info(
        "caller accepted",
        extra={"role": principal.role.value, "tier": principal.tier.value, "kind": principal.kind.value},
    )
    # Acceptances are not counted here: one EMF line on every request was most of this function's cost
    # (the API's own request count is the stage's Count metric); refusals are the signal (docs/decisions.md).
    return allow_policy(principal, str(event["methodArn"]), usage_key)


def _token_caller(authorization: str) -> tuple[Principal, str]:
    from jobsched.api.tokens import bearer_token  # PyJWT loads only for token callers

    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("Authorization is not a bearer token")
    verifier = _verifier()
    return verifier.principal(verifier.verify(token), KEYS, CLIENTS)


def _verifier() -> TokenVerifier:
    from jobsched.api.tokens import JwksKeys, TokenSettings, TokenVerifier

    if not _VERIFIER:
        issuer, audience, jwks_url = _trusted_issuer()
        settings = TokenSettings(
            issuer=issuer,
            audience=audience,
            jwks_url=jwks_url or issuer.rstrip("/") + "/.well-known/jwks.json",
            tenant_claim=SETTINGS.token_tenant_claim,
            role_claim=SETTINGS.token_role_claim,
            tags_claim=SETTINGS.token_tags_claim,
        )
        _VERIFIER.append(TokenVerifier(settings, JwksKeys(settings.jwks_url)))
    return _VERIFIER[0]


def _trusted_issuer() -> tuple[str, tuple[str, ...], str | None]:
    """The issuer from the environment, else from the primary region's SSM parameter (Cognito's)."""
    if SETTINGS.token_issuer is not None:
        return SETTINGS.token_issuer, SETTINGS.token_audience, SETTINGS.token_jwks_url
    if SETTINGS.token_settings_parameter is None:
        raise Unauthorized("bearer tokens are not configured")
    import json

    ssm = client("ssm", SETTINGS.token_settings_region or SETTINGS.region)
    value = ssm.get_parameter(Name=SETTINGS.token_settings_parameter)["Parameter"]["Value"]
    trusted = json.loads(value)
    return str(trusted["issuer"]), tuple(trusted["audience"]), trusted.get("jwks_url")


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
