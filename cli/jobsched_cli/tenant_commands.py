"""`jobsched tenants set-role|show` and `jobsched targets allow|deny|list`: what AWS targets a tenant may use.

The tenant's target role (assumed with the tenant id as ExternalId) opens the resources of that role's
account; the allow-list opens single ARNs, called with the executor's own role. Both are operator
decisions, written only here (the API functions may read them, never write them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TextIO

from jobsched import config
from jobsched.errors import InvalidInput
from jobsched.keys.models import validate_tenant
from jobsched.targets.access import TargetNotAllowed, is_service_resource, parse_arn, role_account
from jobsched.targets.adapters.access_store import DynamoTargetAccessStore


def _store(dynamodb: Any) -> DynamoTargetAccessStore:
    return DynamoTargetAccessStore(dynamodb, config.JOBS_TABLE)


def set_role(dynamodb: Any, tenant: str, role_arn: str | None, out: TextIO) -> None:
    validate_tenant(tenant)
    if role_arn is not None:
        try:
            account = role_account(role_arn)
        except ValueError as exc:
            raise InvalidInput.field("--role-arn", str(exc)) from None
    _store(dynamodb).set_role(tenant, role_arn, datetime.now(UTC))
    if role_arn is None:
        print(f"tenant {tenant} has no target role now; only allow-listed ARNs remain open", file=out)
        return
    print(
        f"tenant {tenant}: jobs may target resources in account {account} through {role_arn}, assumed with "
        f"ExternalId {tenant!r} (the role's trust policy must require that ExternalId)",
        file=out,
    )


def show(dynamodb: Any, tenant: str, out: TextIO) -> None:
    validate_tenant(tenant)
    store = _store(dynamodb)
    role = store.role(tenant)
    print(f"tenant:      {tenant}", file=out)
    print(f"target role: {role or '(none)'}", file=out)
    if role:
        print(f"external id: {tenant}", file=out)
    allowed = sorted(store.allowed(tenant))
    print(f"allow-list:  {len(allowed)} ARN(s)", file=out)
    for arn in allowed:
        print(f"  {arn}", file=out)


def allow(dynamodb: Any, tenant: str, arn: str, out: TextIO) -> None:
    validate_tenant(tenant)
    try:
        resource = parse_arn(arn)
    except TargetNotAllowed as exc:
        raise InvalidInput.field("ARN", str(exc)) from None
    # The CLI does not know which account the service runs in: the prefix is refused in every account.
    if is_service_resource(resource, None):
        raise InvalidInput.field("ARN", f"{arn} is named like the scheduler's own resources")
    _store(dynamodb).allow(tenant, arn, datetime.now(UTC))
    print(f"tenant {tenant} may now target {arn} (with the executor's role)", file=out)


def deny(dynamodb: Any, tenant: str, arn: str, out: TextIO) -> None:
    validate_tenant(tenant)
    removed = _store(dynamodb).deny(tenant, arn)
    print(f"tenant {tenant}: {arn} {'removed from' if removed else 'was not on'} the allow-list", file=out)


def list_allowed(dynamodb: Any, tenant: str, out: TextIO) -> None:
    validate_tenant(tenant)
    allowed = sorted(_store(dynamodb).allowed(tenant))
    if not allowed:
        print(f"tenant {tenant} has no allow-listed targets", file=out)
    for arn in allowed:
        print(arn, file=out)
