"""The REQUEST authorizer as API Gateway runs it: invoke, evaluate its policy, cache allows per key."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jobsched.config import AUTHORIZER_CACHE_SECONDS
from jobsched_local.lambda_context import make_context
from jobsched_local.throttle import Clock

LOG = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"  # 403 User is not authorized to access this resource
    UNAUTHORIZED = "unauthorized"  # 401 Unauthorized
    ERROR = "error"  # 500: the authorizer failed or answered something API Gateway cannot read


@dataclass(frozen=True)
class AuthorizerResult:
    decision: Decision
    context: dict[str, Any] = field(default_factory=dict)
    # The API key the usage plan counts the request against (the API's key source is AUTHORIZER).
    usage_key: str | None = None


@dataclass(frozen=True)
class _CachedAllow:
    expires_at: float
    answer: Mapping[str, Any]
    latency_ms: int


class CachingAuthorizer:
    """Only allows are cached (for AUTHORIZER_CACHE_SECONDS, by credential: the key value or the bearer
    token), so a key created a moment ago works on its next request; revocation is enforced by the API
    key check that runs after this."""

    def __init__(
        self,
        handler: Handler,
        region: str,
        ttl: float = AUTHORIZER_CACHE_SECONDS,
        clock: Clock = time.time,
    ) -> None:
        self._handler = handler
        self._region = region
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, _CachedAllow] = {}
        self._lock = threading.Lock()

    def authorize(self, key_value: str, event: dict[str, Any]) -> AuthorizerResult:
        method_arn = str(event["methodArn"])
        with self._lock:
            cached = self._cache.get(key_value)
        if cached is not None and cached.expires_at > self._clock():
            return evaluate(cached.answer, method_arn, cached.latency_ms)
        started = time.monotonic()
        try:
            answer = self._handler(event, make_context("authorizer", self._region))
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return AuthorizerResult(Decision.UNAUTHORIZED)
            LOG.exception("authorizer failed")
            return AuthorizerResult(Decision.ERROR)
        latency_ms = int((time.monotonic() - started) * 1000)
        result = evaluate(answer, method_arn, latency_ms)
        # A token's answer is not kept: it would outlive the token's exp (on AWS the answer is not cached
        # at all, since API Gateway cannot cache by one of two headers; docs/decisions.md).
        if result.decision is Decision.ALLOW and result.context.get("kind", "key") == "key":
            with self._lock:
                self._cache[key_value] = _CachedAllow(self._clock() + self._ttl, answer, latency_ms)
        return result


def evaluate(answer: Any, method_arn: str, latency_ms: int = 0) -> AuthorizerResult:
    """Read an authorizer's answer the way API Gateway does: explicit Deny wins, else a matching Allow."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("policyDocument"), Mapping):
        LOG.error("authorizer answer has no policyDocument: %r", answer)
        return AuthorizerResult(Decision.ERROR)
    if not policy_allows(answer["policyDocument"], method_arn):
        return AuthorizerResult(Decision.DENY)
    # API Gateway hands context values to the integration as strings, next to principalId.
    context: dict[str, Any] = {str(k): _as_string(v) for k, v in (answer.get("context") or {}).items()}
    context["principalId"] = str(answer.get("principalId", ""))
    context["integrationLatency"] = latency_ms
    usage_key = answer.get("usageIdentifierKey")
    return AuthorizerResult(Decision.ALLOW, context, str(usage_key) if usage_key else None)


def policy_allows(document: Mapping[str, Any], method_arn: str) -> bool:
    statements = document.get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    allowed = False
    for statement in statements:
        # Action names compare case-insensitively in IAM; resource ARNs do not.
        if not _any_matches(statement.get("Action"), "execute-api:Invoke", ignore_case=True):
            continue
        if not _any_matches(statement.get("Resource"), method_arn, ignore_case=False):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _any_matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    flags = (re.IGNORECASE if ignore_case else 0) | re.DOTALL  # IAM's * matches any character, newline too
    return any(_wildcard(str(pattern), flags).fullmatch(value) for pattern in patterns or [])


def _wildcard(pattern: str, flags: int) -> re.Pattern[str]:
    # IAM wildcards: * is any run of characters (also across '/'), ? is one character.
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), flags)


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
