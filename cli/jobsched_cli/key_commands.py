"""`jobsched keys create|list|revoke`: tenant onboarding through the KeyService, output for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from jobsched.keys.admin import AuditAction, AuditLog, record_operator_action
from jobsched.keys.models import ApiKeyRecord, KeyService

LIST_COLUMNS = ("KEY ID", "TENANT", "ROLE", "TIER", "STATUS", "CREATED")


def create_key(
    service: KeyService,
    tenant: str,
    tier: str,
    role: str,
    regions: Sequence[str],
    out: TextIO,
    tags: dict[str, str] | None = None,
    audit: AuditLog | None = None,
) -> None:
    record, value = service.create(tenant, tier, role, tags=tags)
    if audit is not None:
        record_operator_action(
            audit,
            record.tenant,
            AuditAction.KEY_CREATED,
            record.key_id,
            role=record.role.value,
            tags=record.tags,
        )
    limited = f", jobs tagged {','.join(f'{k}:{v}' for k, v in record.tags.items())}" if record.tags else ""
    print(
        f"Created {record.key_id} for tenant {record.tenant} "
        f"(role {record.role.value}, tier {record.tier.value}{limited}) in {', '.join(regions)}.",
        file=out,
    )
    print("The key value follows; it is shown only this once, so store it now:", file=out)
    # Last line on its own, so scripts can take it with `tail -n1`.
    print(value, file=out)


def list_keys(service: KeyService, tenant: str | None, out: TextIO) -> None:
    records = sorted(service.list(tenant), key=lambda r: (r.created_at, r.key_id))
    if not records:
        print("No API keys" + (f" for tenant {tenant}." if tenant else "."), file=out)
        return
    print(format_table(LIST_COLUMNS, [key_row(record) for record in records]), file=out)


def revoke_key(
    service: KeyService, key_id: str, regions: Sequence[str], out: TextIO, audit: AuditLog | None = None
) -> None:
    record = service.revoke(key_id)
    if audit is not None:
        record_operator_action(audit, record.tenant, AuditAction.KEY_REVOKED, record.key_id)
    print(f"Revoked {record.key_id} of tenant {record.tenant} in {', '.join(regions)}.", file=out)


def key_row(record: ApiKeyRecord) -> tuple[str, ...]:
    created = record.created_at.strftime("%Y-%m-%d %H:%M:%SZ")
    return (record.key_id, record.tenant, record.role.value, record.tier.value, record.status.value, created)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)
