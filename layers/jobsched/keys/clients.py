"""OAuth 2.0 clients of third parties: client-credentials tokens limited by scopes, a role and job tags.

The issuer (a Cognito user pool on AWS, the local issuer locally) holds the client and mints its tokens;
the jobs table holds what the client may do in its tenant (the client record), so the authorizer maps a
token's `client_id` to tenant, role and tags, and revoking the record stops its tokens at once.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobsched.config import Role
from jobsched.empty import empty_dict
from jobsched.errors import InvalidInput, NotFound
from jobsched.keys.models import KeyStatus, hash_key, validate_tenant

# How long a client's access token lasts: a day, Cognito's longest. Cognito prices every token request of
# a client (docs/cost.md) and clients cache a token for its lifetime, so a day is one request a client and
# day instead of 24. What a client may do is still checked on every request (its record), so revoking it
# stops its unexpired tokens at once (docs/decisions.md, Cost).
CLIENT_TOKEN_VALIDITY = timedelta(days=1)

# The resource server's identifier: scopes travel in tokens as "jobsched/jobs.read".
RESOURCE_SERVER = "jobsched"
SCOPES: tuple[str, ...] = ("jobs.read", "jobs.write", "executions.read", "executions.retry")
SCOPE_DESCRIPTIONS = {
    "jobs.read": "read jobs and their schedule status",
    "jobs.write": "create, change, pause, resume and delete jobs",
    "executions.read": "read execution history",
    "executions.retry": "run a job now and retry failed executions",
}


class ClientRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1, max_length=128)
    tenant: str
    role: Role
    scopes: tuple[str, ...]
    tags: dict[str, str] = Field(default_factory=empty_dict)
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: datetime
    revoked_at: datetime | None = None

    @field_validator("tenant")
    @classmethod
    def _tenant_shape(cls, value: str) -> str:
        return validate_tenant(value)


def parse_scopes(text: str | Iterable[str]) -> tuple[str, ...]:
    """`jobs.read,executions.read` (or the names) into known scope names; the prefix form is accepted."""
    names = text.replace(" ", ",").split(",") if isinstance(text, str) else list(text)
    scopes: list[str] = []
    for name in (n.strip().removeprefix(f"{RESOURCE_SERVER}/") for n in names):
        if not name:
            continue
        if name not in SCOPES:
            raise InvalidInput.field("scopes", f"'{name}' is not one of: {', '.join(SCOPES)}")
        if name not in scopes:
            scopes.append(name)
    if not scopes:
        raise InvalidInput.field("scopes", f"give at least one of: {', '.join(SCOPES)}")
    return tuple(scopes)


def scope_names(claim: object) -> frozenset[str]:
    """The service's scopes in a token's `scope` claim (space-separated, resource-server prefixed)."""
    if not isinstance(claim, str):
        return frozenset()
    prefix = f"{RESOURCE_SERVER}/"
    return frozenset(
        part.removeprefix(prefix) for part in claim.split() if part.removeprefix(prefix) in SCOPES
    )


class ClientStore(Protocol):
    def put(self, record: ClientRecord, secret_hash: str) -> None: ...

    def get(self, client_id: str) -> ClientRecord | None: ...

    def secret_hash(self, client_id: str) -> str | None: ...

    def list(self, tenant: str | None = None) -> list[ClientRecord]: ...

    def mark_revoked(self, client_id: str, at: datetime) -> ClientRecord: ...


class ClientRegistry(Protocol):
    """The issuer's side: where the client and its secret exist (Cognito app client, or local)."""

    def create(self, name: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        """A new client: (client_id, client_secret)."""
        ...

    def delete(self, client_id: str) -> None: ...


class LocalClientRegistry:
    """The local issuer's clients: ids and secrets made here; the secret's hash is kept in the record."""

    def create(self, name: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        return "cli_" + secrets.token_hex(12), secrets.token_urlsafe(32)

    def delete(self, client_id: str) -> None:
        return None


class ClientService:
    def __init__(self, store: ClientStore, registry: ClientRegistry) -> None:
        self._store = store
        self._registry = registry

    def create(
        self, tenant: str, role: Role | str, scopes: tuple[str, ...], tags: dict[str, str] | None = None
    ) -> tuple[ClientRecord, str]:
        tenant = validate_tenant(tenant)
        client_id, secret = self._registry.create(f"{tenant}-{secrets.token_hex(4)}", scopes)
        record = ClientRecord(
            client_id=client_id,
            tenant=tenant,
            role=Role(role),
            scopes=scopes,
            tags=tags or {},
            created_at=datetime.now(UTC),
        )
        try:
            self._store.put(record, hash_key(secret))
        except Exception:
            self._registry.delete(client_id)
            raise
        return record, secret

    def list(self, tenant: str | None = None) -> list[ClientRecord]:
        return self._store.list(validate_tenant(tenant) if tenant is not None else None)

    def revoke(self, client_id: str) -> ClientRecord:
        """The record first (the authorizer refuses its tokens from now on), then the issuer's client."""
        if self._store.get(client_id) is None:
            raise NotFound(f"no client with id {client_id}")
        record = self._store.mark_revoked(client_id, datetime.now(UTC))
        self._registry.delete(client_id)
        return record


def check_client_secret(store: ClientStore, client_id: str, secret: str) -> ClientRecord | None:
    """The active client whose secret this is, or None (unknown, revoked or a wrong secret)."""
    record = store.get(client_id)
    expected = store.secret_hash(client_id)
    if record is None or expected is None or record.status is not KeyStatus.ACTIVE:
        return None
    return record if hmac.compare_digest(expected, hash_key(secret)) else None
