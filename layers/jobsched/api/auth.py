"""Who is calling: the authorizer's decision and the principal handlers read from its context.

Handlers take tenant and role only from the authorizer context that API Gateway passes along,
never from anything the caller sends. A caller is an API key, a user's token or an OAuth 2.0 client's
token (jobsched.api.tokens); all three become the same Principal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jobsched.api.routes import WRITE_ROLES
from jobsched.config import Role, Tier
from jobsched.errors import Forbidden, NotFound, Unauthorized
from jobsched.keyscheme import JobKey

if TYPE_CHECKING:
    from jobsched.keys.models import KeyStore

TagScope = tuple[tuple[str, str], ...]


class CallerKind(StrEnum):
    KEY = "key"
    USER = "user"
    CLIENT = "client"


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: Role
    tier: Tier
    # Who, as every audit field records it: the key's id, "user:<sub>" or "client:<client_id>".
    key_id: str
    kind: CallerKind = CallerKind.KEY
    # The OAuth scopes the caller's token grants; None: not limited by scopes (keys, users' ID tokens).
    scopes: frozenset[str] | None = None
    # Tags a job must carry for this caller to see it (e.g. team=billing); (): every job of the tenant.
    tags: TagScope = ()

    def as_context(self) -> dict[str, str]:
        """API Gateway passes context values as strings: scopes and tags travel as JSON."""
        return {
            "tenant": self.tenant,
            "role": self.role.value,
            "tier": self.tier.value,
            "key_id": self.key_id,
            "kind": self.kind.value,
            "scopes": "" if self.scopes is None else json.dumps(sorted(self.scopes)),
            "tags": json.dumps([list(pair) for pair in self.tags]) if self.tags else "",
        }

    def job(self, job_id: str) -> JobKey:
        """The caller's job `job_id`: always under the caller's own tenant."""
        return JobKey(self.tenant, job_id)

    def sees(self, job_tags: Mapping[str, str]) -> bool:
        """Whether a job with these tags is inside this caller's tag scope."""
        return all(job_tags.get(key) == value for key, value in self.tags)

    def require_visible(self, job_id: str, job_tags: Mapping[str, str]) -> None:
        """A job outside the caller's tag scope answers exactly as another tenant's job does."""
        if not self.sees(job_tags):
            raise NotFound(f"job {job_id} not found")

    def require_tags(self, job_tags: Mapping[str, str]) -> None:
        """A caller limited to tags may only write jobs that carry them."""
        if not self.sees(job_tags):
            needed = ", ".join(f"{key}:{value}" for key, value in self.tags)
            raise Forbidden.field("tags", f"must include {needed}: this caller is limited to those jobs")

    def require_write(self) -> None:
        """The check behind every route the table (jobsched.api.routes) opens to WRITE_ROLES only."""
        if self.role not in WRITE_ROLES:
            raise Forbidden(f"role '{self.role.value}' may only read; writing needs operator or admin")

    def require_role(self, *roles: Role) -> None:
        """The check behind the routes the table (jobsched.api.routes) opens to some roles only (admin)."""
        if self.role not in roles:
            names = ", ".join(r.value for r in roles)
            raise Forbidden(f"role '{self.role.value}' may not do this; it needs one of: {names}")


def authenticate(key_value: str | None, store: KeyStore) -> Principal:
    # Imported here: only the authorizer checks keys, and the API functions that share this module need
    # not build the key models.
    from jobsched.keys.models import KeyPurpose, KeyStatus, hash_key

    if not key_value:
        raise Unauthorized("missing API key")
    record = store.get_by_hash(hash_key(key_value))
    if record is None or record.status is not KeyStatus.ACTIVE:
        raise Unauthorized("unknown or revoked API key")
    if record.purpose is not KeyPurpose.CALLER:
        # A tenant's usage key only counts token callers against its tier; it is no credential.
        raise Unauthorized("unknown or revoked API key")
    return Principal(
        tenant=record.tenant,
        role=record.role,
        tier=record.tier,
        key_id=record.key_id,
        tags=tuple(sorted(record.tags.items())),
    )


def principal_from_context(context: Mapping[str, Any] | None) -> Principal:
    """Read the principal the authorizer attached to the request; anything missing means no access."""
    if not context:
        raise Unauthorized("request carries no authorizer context")
    try:
        return Principal(
            tenant=str(context["tenant"]),
            role=Role(context["role"]),
            tier=Tier(context["tier"]),
            key_id=str(context["key_id"]),
            kind=CallerKind(context.get("kind") or CallerKind.KEY),
            scopes=_scopes_from(context.get("scopes")),
            tags=_tags_from(context.get("tags")),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("authorizer context is incomplete") from exc


def _scopes_from(raw: Any) -> frozenset[str] | None:
    if not raw:
        return None
    scopes = json.loads(str(raw))
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise ValueError("scopes")
    return frozenset(scopes)


def _tags_from(raw: Any) -> TagScope:
    if not raw:
        return ()
    pairs = json.loads(str(raw))
    if not isinstance(pairs, list):
        raise ValueError("tags")
    tags: list[tuple[str, str]] = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise ValueError("tags")
        tags.append((pair[0], pair[1]))
    return tuple(tags)


def allow_policy(principal: Principal, method_arn: str, usage_key: str | None = None) -> dict[str, Any]:
    """An IAM policy for the whole stage, so API Gateway's cached answer serves every route of the key.

    `usage_key` is the API key value the usage plan counts the request against (the API's key source is
    the authorizer): the presented key itself, or the tenant's usage key for a token caller.
    """
    # Imported here: only the authorizer answers with a policy, and the API functions that share this
    # module need not load Powertools' event data classes.
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
        parse_api_gateway_arn,
    )

    route = parse_api_gateway_arn(method_arn)
    response = APIGatewayAuthorizerResponse(
        principal_id=principal.key_id,
        region=route.region,
        aws_account_id=route.aws_account_id,
        api_id=route.api_id,
        stage=route.stage,
        context=principal.as_context(),
        partition=route.partition,
        usage_identifier_key=usage_key,
    )
    response.allow_all_routes()
    return response.asdict()
