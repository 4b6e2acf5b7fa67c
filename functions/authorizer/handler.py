"""REQUEST authorizer: maps the hashed x-api-key to tenant, role and tier (API Gateway caches the answer)."""

from __future__ import annotations

from typing import Any

from jobsched.api.auth import allow_policy, authenticate
from jobsched.aws.clients import client
from jobsched.config import API_KEY_HEADER
from jobsched.errors import Unauthorized
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.settings import load_settings
from jobsched.telemetry import (
    AuthorizerDecision,
    bind,
    instrument_handler,
    logger,
    record_authorizer_decision,
)

SETTINGS = load_settings()
KEYS = DynamoKeyStore(client("dynamodb"), SETTINGS.jobs_table)


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        principal = authenticate(headers.get(API_KEY_HEADER), KEYS)
    except Unauthorized as refused:
        # The reason only ("missing", "unknown or revoked"): the presented key value is never logged.
        logger.info("key refused", extra={"reason": str(refused)})
        record_authorizer_decision(AuthorizerDecision.DENIED)
        # API Gateway answers 401 only for this exact error message from an authorizer.
        raise Exception("Unauthorized") from None
    bind(tenant=principal.tenant, key_id=principal.key_id)
    logger.info("key accepted", extra={"role": principal.role.value, "tier": principal.tier.value})
    record_authorizer_decision(AuthorizerDecision.ALLOWED)
    return allow_policy(principal, str(event["methodArn"]))
