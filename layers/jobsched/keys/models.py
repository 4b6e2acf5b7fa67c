"""API keys: what a key is, how it is stored (only its hash), how it is issued and revoked in every region.

A key belongs to one tenant, has one role and one tier. The key value itself is shown once, at creation;
the table keeps its SHA-256 so the authorizer can look a presented key up without ever storing it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobsched.config import Role, Tier
from jobsched.empty import empty_dict
from jobsched.errors import InvalidInput, NotFound

KEY_PREFIX = "jsk_"
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class KeyPurpose(StrEnum):
    CALLER = "caller"  # a service presents it in x-api-key
    # The tenant's usage key: the authorizer names it for token callers so its tier's usage plan counts
    # them (docs/decisions.md); never accepted as x-api-key.
    USAGE = "usage"


TAG_SCOPE_PATTERN = re.compile(r"^([^:,]{1,128}):([^,]{0,256})$")


def parse_tag_scope(text: str | None) -> dict[str, str]:
    """`team:billing,env:prod` into {"team": "billing", "env": "prod"}; empty for None or ''."""
    tags: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = TAG_SCOPE_PATTERN.fullmatch(part.strip())
        if match is None:
            raise InvalidInput.field("tags", f"'{part.strip()}' is not key:value")
        tags[match.group(1)] = match.group(2)
    return tags


class ApiKeyRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str
    tenant: str
    role: Role
    tier: Tier
    status: KeyStatus = KeyStatus.ACTIVE
    created_at: datetime
    revoked_at: datetime | None = None
    purpose: KeyPurpose = KeyPurpose.CALLER
    # The job tags this key is limited to (empty: every job of its tenant).
    tags: dict[str, str] = Field(default_factory=empty_dict)

    @field_validator("tenant")
    @classmethod
    def _tenant_shape(cls, value: str) -> str:
        return validate_tenant(value)


def validate_tenant(tenant: str) -> str:
    if not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidInput.field(
            "tenant", "must be 1-63 characters of lowercase letters, digits and '-', starting alphanumeric"
        )
    return tenant


def hash_key(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def generate_key_value() -> str:
    # 32 random bytes: far beyond guessing; API Gateway wants at least 20 characters.
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    from ulid import ULID  # only creating a key needs it (python-ulid reads its package metadata on import)

    return "key_" + str(ULID()).lower()


class KeyStore(Protocol):
    """Where key records live (the jobs table, replicated to every region)."""

    def put(self, record: ApiKeyRecord, key_hash: str) -> None: ...

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    def get(self, key_id: str) -> ApiKeyRecord | None: ...

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]: ...

    def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord: ...

    def put_usage_key(self, usage: TenantUsageKey) -> None: ...

    def get_usage_key(self, tenant: str) -> TenantUsageKey | None: ...


class TenantUsageKey(BaseModel):
    """The API key value a tenant's token callers are counted against (its tier's usage plan)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    key_id: str
    tier: Tier
    value: str


class KeyRegistry(Protocol):
    """One region's API Gateway: where a key value is registered in the usage plan of its tier."""

    region: str

    def register(self, key_id: str, value: str, tier: Tier) -> None: ...

    def deregister(self, key_id: str) -> None: ...


class KeyService:
    def __init__(self, store: KeyStore, registries: Sequence[KeyRegistry]) -> None:
        self._store = store
        self._registries = list(registries)

    def create(
        self,
        tenant: str,
        tier: Tier | str,
        role: Role | str,
        tags: dict[str, str] | None = None,
        purpose: KeyPurpose = KeyPurpose.CALLER,
    ) -> tuple[ApiKeyRecord, str]:
        """Issue a key. The same value is registered in every region, then its hash is stored.

        The table write comes last because it is what makes the key usable (the authorizer reads it);
        if a region refuses the key, the regions already done are undone and nothing is stored.
        """
        record = ApiKeyRecord(
            key_id=new_key_id(),
            tenant=validate_tenant(tenant),
            role=Role(role),
            tier=Tier(tier),
            created_at=datetime.now(UTC),
            purpose=purpose,
            tags=tags or {},
        )
        value = generate_key_value()
        done: list[KeyRegistry] = []
        try:
            for registry in self._registries:
                registry.register(record.key_id, value, record.tier)
                done.append(registry)
            self._store.put(record, hash_key(value))
        except Exception:
            _undo(done, record.key_id)
            raise
        return record, value

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        return self._store.list(validate_tenant(tenant) if tenant is not None else None)

    def current_usage_key(self, tenant: str) -> TenantUsageKey | None:
        return self._store.get_usage_key(validate_tenant(tenant))

    def ensure_usage_key(self, tenant: str, tier: Tier | str) -> TenantUsageKey:
        """The tenant's usage key in `tier`, issued (or re-issued in a new tier) when needed.

        Token callers have no API key of their own; the authorizer names this one so API Gateway counts
        them against the tenant's tier like its key callers. A tier change issues a new key first, then
        revokes the old one, so token callers are never left without a plan.
        """
        current = self._store.get_usage_key(validate_tenant(tenant))
        if current is not None and current.tier is Tier(tier):
            return current
        record, value = self.create(tenant, tier, Role.VIEWER, purpose=KeyPurpose.USAGE)
        usage = TenantUsageKey(tenant=tenant, key_id=record.key_id, tier=record.tier, value=value)
        self._store.put_usage_key(usage)
        if current is not None:
            self.revoke(current.key_id)
        return usage

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke everywhere: the table first (the authorizer stops allowing it), then every region's key."""
        if self._store.get(key_id) is None:
            raise NotFound(f"no API key with id {key_id}")
        record = self._store.mark_revoked(key_id, datetime.now(UTC))
        for registry in self._registries:
            registry.deregister(key_id)
        return record


def _undo(registries: Iterable[KeyRegistry], key_id: str) -> None:
    for registry in registries:
        try:
            registry.deregister(key_id)
        except Exception:  # noqa: S112 - best effort; the original error is the one to report
            continue
