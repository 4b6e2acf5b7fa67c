"""A tenant admin's own keys and OAuth clients over the API, and the audit trail of that management.

An admin manages its own tenant only: a key or client of another tenant answers 404 as if it did not
exist. A key made here gets the admin's own tier (tiers are the operators' commercial decision, set with
`jobsched keys create`), and a caller limited to tags can only hand out credentials limited to the same
tags. Every create and revoke leaves an audit record (who, what, when) the tenant's admins can list, as do
a job's deletion and its webhook secret's rotation (jobsched.jobs.adapters.job_store writes those).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from jobsched.api.auth import Principal
from jobsched.config import Role
from jobsched.empty import empty_dict
from jobsched.errors import Conflict, NotFound
from jobsched.keys.clients import ClientRecord, ClientService
from jobsched.keys.models import ApiKeyRecord, KeyPurpose, KeyService
from jobsched.page_tokens import decode_page_token, encode_page_token

Clock = Callable[[], datetime]


class AuditAction(StrEnum):
    KEY_CREATED = "key.created"
    KEY_REVOKED = "key.revoked"
    CLIENT_CREATED = "client.created"
    CLIENT_REVOKED = "client.revoked"
    # Writes that leave no job item to carry who made them (jobs carry created_by and updated_by).
    JOB_DELETED = "job.deleted"
    WEBHOOK_SECRET_ROTATED = "job.webhook_secret_rotated"  # noqa: S105 (an action's name, no secret)


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    audit_id: str
    at: datetime
    actor: str = Field(description="who did it: a key id, user:<sub> or client:<client_id>")
    action: AuditAction
    target: str = Field(description="the key id, client id or job id acted on")
    details: dict[str, Any] = Field(default_factory=empty_dict)


class AuditLog(Protocol):
    def append(self, tenant: str, record: AuditRecord) -> None: ...

    def page(self, tenant: str, limit: int, start_after: str | None) -> tuple[list[AuditRecord], str | None]:
        """Newest first; `start_after` is the last audit id of the previous page."""
        ...


# The actor of what operators do with the `jobsched` CLI (keys, clients), in the tenant's audit trail.
OPERATOR_ACTOR = "operator:cli"


def record_operator_action(
    audit: AuditLog, tenant: str, action: AuditAction, target: str, **details: Any
) -> None:
    """An operator's key or client management leaves the same audit record as a tenant admin's."""
    at = datetime.now(UTC)
    record = AuditRecord(
        audit_id=new_audit_id(at), at=at, actor=OPERATOR_ACTOR, action=action, target=target, details=details
    )
    audit.append(tenant, record)


def new_audit_id(at: datetime) -> str:
    """Sorts by time to the microsecond (a ULID orders only by millisecond), then a random part."""
    return f"aud_{at.astimezone(UTC):%Y%m%dT%H%M%S%f}_{secrets.token_hex(4)}"


class TenantAdmin:
    def __init__(
        self, keys: KeyService, clients: ClientService | None, audit: AuditLog, clock: Clock | None = None
    ) -> None:
        self._keys = keys
        self._clients = clients
        self._audit = audit
        self._now = clock or (lambda: datetime.now(UTC))

    def create_key(self, principal: Principal, role: Role, tags: dict[str, str]) -> tuple[ApiKeyRecord, str]:
        principal.require_role(Role.ADMIN)
        tags = _within_scope(principal, tags)
        record, value = self._keys.create(principal.tenant, principal.tier, role, tags=tags)
        self._log(principal, AuditAction.KEY_CREATED, record.key_id, role=role.value, tags=tags)
        return record, value

    def list_keys(self, principal: Principal) -> list[ApiKeyRecord]:
        principal.require_role(Role.ADMIN)
        records = [r for r in self._keys.list(principal.tenant) if r.purpose is KeyPurpose.CALLER]
        return sorted(records, key=lambda r: (r.created_at, r.key_id))

    def revoke_key(self, principal: Principal, key_id: str) -> ApiKeyRecord:
        principal.require_role(Role.ADMIN)
        owned = {r.key_id for r in self.list_keys(principal)}
        if key_id not in owned:
            raise NotFound(f"no API key with id {key_id}")
        if key_id == principal.key_id:
            # An admin cannot lock itself out by accident; another admin (or an operator) revokes it.
            raise Conflict("a key cannot revoke itself; revoke it with another admin's credentials")
        record = self._keys.revoke(key_id)
        self._log(principal, AuditAction.KEY_REVOKED, key_id)
        return record

    def create_client(
        self, principal: Principal, role: Role, scopes: tuple[str, ...], tags: dict[str, str]
    ) -> tuple[ClientRecord, str]:
        principal.require_role(Role.ADMIN)
        clients = self._client_service()
        tags = _within_scope(principal, tags)
        self._keys.ensure_usage_key(principal.tenant, principal.tier)
        record, secret = clients.create(principal.tenant, role, scopes, tags)
        self._log(
            principal,
            AuditAction.CLIENT_CREATED,
            record.client_id,
            role=role.value,
            scopes=list(scopes),
            tags=tags,
        )
        return record, secret

    def list_clients(self, principal: Principal) -> list[ClientRecord]:
        principal.require_role(Role.ADMIN)
        records = self._client_service().list(principal.tenant)
        return sorted(records, key=lambda r: (r.created_at, r.client_id))

    def revoke_client(self, principal: Principal, client_id: str) -> ClientRecord:
        principal.require_role(Role.ADMIN)
        if client_id not in {r.client_id for r in self.list_clients(principal)}:
            raise NotFound(f"no client with id {client_id}")
        record = self._client_service().revoke(client_id)
        self._log(principal, AuditAction.CLIENT_REVOKED, client_id)
        return record

    def audit(
        self, principal: Principal, limit: int, next_token: str | None
    ) -> tuple[list[AuditRecord], str | None]:
        principal.require_role(Role.ADMIN)
        start_after = _decode_token(next_token) if next_token else None
        records, last = self._audit.page(principal.tenant, limit, start_after)
        return records, _encode_token(last) if last else None

    def _client_service(self) -> ClientService:
        if self._clients is None:
            raise NotFound("OAuth clients are not configured in this deployment")
        return self._clients

    def _log(self, principal: Principal, action: AuditAction, target: str, **details: Any) -> None:
        at = self._now()
        record = AuditRecord(
            audit_id=new_audit_id(at),
            at=at,
            actor=principal.key_id,
            action=action,
            target=target,
            details=details,
        )
        self._audit.append(principal.tenant, record)


def _within_scope(principal: Principal, tags: dict[str, str]) -> dict[str, str]:
    """A caller limited to tags hands out credentials limited to at least the same tags."""
    principal.require_tags(tags)
    return tags


def _encode_token(last_audit_id: str) -> str:
    return encode_page_token(last_audit_id)


def _decode_token(token: str) -> str:
    return decode_page_token(token, "aud_")
