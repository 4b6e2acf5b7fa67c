"""Who is calling: the authorizer's decision and the principal handlers read from its context.

Handlers take tenant and role only from the authorizer context that API Gateway passes along,
never from anything the caller sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobsched.api.routes import WRITE_ROLES
from jobsched.config import Role, Tier
from jobsched.errors import Forbidden, Unauthorized
from jobsched.keys.models import KeyStatus, KeyStore, hash_key
from jobsched.keyscheme import JobKey


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: Role
    tier: Tier
    key_id: str

    def as_context(self) -> dict[str, str]:
        return {
            "tenant": self.tenant,
            "role": self.role.value,
            "tier": self.tier.value,
            "key_id": self.key_id,
        }

    def job(self, job_id: str) -> JobKey:
        """The caller's job `job_id`: always under the caller's own tenant."""
        return JobKey(self.tenant, job_id)

    def require_write(self) -> None:
        """The check behind every route the table (jobsched.api.routes) opens to WRITE_ROLES only."""
        if self.role not in WRITE_ROLES:
            raise Forbidden(f"role '{self.role.value}' may only read; writing needs operator or admin")


def authenticate(key_value: str | None, store: KeyStore) -> Principal:
    if not key_value:
        raise Unauthorized("missing API key")
    record = store.get_by_hash(hash_key(key_value))
    if record is None or record.status is not KeyStatus.ACTIVE:
        raise Unauthorized("unknown or revoked API key")
    return Principal(tenant=record.tenant, role=record.role, tier=record.tier, key_id=record.key_id)


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
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("authorizer context is incomplete") from exc


def allow_policy(principal: Principal, method_arn: str) -> dict[str, Any]:
    """An IAM policy for the whole stage, so API Gateway's cached answer serves every route of the key."""
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
    )
    response.allow_all_routes()
    return response.asdict()
