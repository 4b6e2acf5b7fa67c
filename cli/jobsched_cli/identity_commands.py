"""`jobsched tokens` and `jobsched clients`: token access for a tenant, users' tokens, OAuth clients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from jobsched.config import Tier
from jobsched.keys.admin import AuditAction, AuditLog, record_operator_action
from jobsched.keys.clients import ClientRecord, ClientService
from jobsched.keys.models import KeyService, TenantUsageKey
from jobsched_cli.key_commands import format_table
from jobsched_local.token_issuer import LocalIssuer

CLIENT_COLUMNS = ("CLIENT ID", "TENANT", "ROLE", "SCOPES", "TAGS", "STATUS", "CREATED")
DEFAULT_TIER = Tier.STANDARD


def enable_tokens(keys: KeyService, tenant: str, tier: str | None, out: TextIO) -> TenantUsageKey:
    usage = ensure_usage(keys, tenant, tier)
    print(
        f"Tenant {usage.tenant}: token callers count against tier {usage.tier.value} (usage key "
        f"{usage.key_id}).",
        file=out,
    )
    return usage


def ensure_usage(keys: KeyService, tenant: str, tier: str | None) -> TenantUsageKey:
    """The tenant's usage key: in `tier` if given, else as it is (standard if it has none yet)."""
    if tier is None:
        current = keys.current_usage_key(tenant)
        if current is not None:
            return current
    return keys.ensure_usage_key(tenant, tier or DEFAULT_TIER)


def issue_token(
    issuer: LocalIssuer,
    keys: KeyService,
    *,
    tenant: str,
    role: str,
    scopes: Sequence[str] | None,
    tags: dict[str, str],
    ttl_seconds: int,
    tier: str | None,
    subject: str | None,
    out: TextIO,
) -> str:
    usage = ensure_usage(keys, tenant, tier)
    token = issuer.user_token(
        tenant, role, subject=subject, scopes=scopes, tags=tags, ttl_seconds=ttl_seconds
    )
    limits = f", scopes {' '.join(scopes)}" if scopes is not None else ""
    limits += f", tags {','.join(f'{k}:{v}' for k, v in tags.items())}" if tags else ""
    print(
        f"Token for tenant {tenant} (role {role}, tier {usage.tier.value}{limits}), valid "
        f"{ttl_seconds} s, signed by {issuer.issuer_url}. Send it as `Authorization: Bearer <token>`:",
        file=out,
    )
    print(token, file=out)  # last line on its own, for `tail -n1`
    return token


def create_client(
    clients: ClientService,
    keys: KeyService,
    *,
    tenant: str,
    role: str,
    scopes: tuple[str, ...],
    tags: dict[str, str],
    tier: str | None,
    token_url: str,
    out: TextIO,
    audit: AuditLog | None = None,
) -> ClientRecord:
    usage = ensure_usage(keys, tenant, tier)
    record, secret = clients.create(tenant, role, scopes, tags)
    if audit is not None:
        record_operator_action(
            audit,
            record.tenant,
            AuditAction.CLIENT_CREATED,
            record.client_id,
            role=record.role.value,
            scopes=list(record.scopes),
        )
    print(
        f"Created client {record.client_id} for tenant {record.tenant} (role {record.role.value}, "
        f"scopes {' '.join(record.scopes)}, tier {usage.tier.value}).",
        file=out,
    )
    print(f"Token endpoint: {token_url} (grant_type=client_credentials, HTTP Basic auth).", file=out)
    print(f"client_id: {record.client_id}", file=out)
    print("The client secret follows; it is shown only this once, so store it now:", file=out)
    print(secret, file=out)
    return record


def list_clients(clients: ClientService, tenant: str | None, out: TextIO) -> None:
    records = sorted(clients.list(tenant), key=lambda r: (r.created_at, r.client_id))
    if not records:
        print("No clients" + (f" for tenant {tenant}." if tenant else "."), file=out)
        return
    rows = [
        (
            r.client_id,
            r.tenant,
            r.role.value,
            ",".join(r.scopes),
            ",".join(f"{k}:{v}" for k, v in r.tags.items()) or "-",
            r.status.value,
            r.created_at.strftime("%Y-%m-%d %H:%M:%SZ"),
        )
        for r in records
    ]
    print(format_table(CLIENT_COLUMNS, rows), file=out)


def revoke_client(clients: ClientService, client_id: str, out: TextIO, audit: AuditLog | None = None) -> None:
    record = clients.revoke(client_id)
    if audit is not None:
        record_operator_action(audit, record.tenant, AuditAction.CLIENT_REVOKED, record.client_id)
    print(
        f"Revoked client {record.client_id} of tenant {record.tenant}; its tokens stop working now.", file=out
    )
