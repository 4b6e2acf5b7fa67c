"""REQUEST authorizer: maps the hashed x-api-key to tenant, role and tier (API Gateway caches the answer)."""

from __future__ import annotations

from typing import Any

from jobsched.adapters.clients import client
from jobsched.adapters.key_store import DynamoKeyStore
from jobsched.auth import allow_policy, authenticate
from jobsched.config import API_KEY_HEADER
from jobsched.errors import Unauthorized
from jobsched.settings import load_settings

SETTINGS = load_settings()
KEYS = DynamoKeyStore(client("dynamodb"), SETTINGS.jobs_table)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    try:
        principal = authenticate(headers.get(API_KEY_HEADER), KEYS)
    except Unauthorized:
        # API Gateway answers 401 only for this exact error message from an authorizer.
        raise Exception("Unauthorized") from None
    return allow_policy(principal, str(event["methodArn"]))
