"""The demo key is made once through the KeyService and printed the same on every start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from jobsched.config import Role, Tier
from jobsched.keys.adapters.key_service import make_key_service, make_key_store
from jobsched.keys.models import KeyStatus, hash_key
from jobsched_local.demo_key import DEMO_KEY_FILE, DEMO_TENANT, ensure_demo_key
from jobsched_local.provision import provision

REGIONS = ("us-east-1",)


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def test_made_once_then_reused(empty_aws: None, tmp_path: Path) -> None:
    provision("us-east-1", REGIONS)
    service, store = make_key_service(clients, "us-east-1", REGIONS), make_key_store(clients, "us-east-1")
    value = ensure_demo_key(tmp_path, service, store)
    assert ensure_demo_key(tmp_path, service, store) == value
    record = store.get_by_hash(hash_key(value))
    assert record is not None
    assert (record.tenant, record.role, record.tier) == (DEMO_TENANT, Role.ADMIN, Tier.PREMIUM)
    assert (tmp_path / DEMO_KEY_FILE).stat().st_mode & 0o077 == 0
    assert len(store.list(DEMO_TENANT)) == 1


def test_a_revoked_or_unknown_demo_key_is_replaced(empty_aws: None, tmp_path: Path) -> None:
    provision("us-east-1", REGIONS)
    service, store = make_key_service(clients, "us-east-1", REGIONS), make_key_store(clients, "us-east-1")
    first = ensure_demo_key(tmp_path, service, store)
    record = store.get_by_hash(hash_key(first))
    assert record is not None
    service.revoke(record.key_id)
    second = ensure_demo_key(tmp_path, service, store)
    assert second != first
    assert (tmp_path / DEMO_KEY_FILE).read_text().strip() == second
    (tmp_path / DEMO_KEY_FILE).write_text("jsk_not_a_known_key_at_all\n")
    third = ensure_demo_key(tmp_path, service, store)
    assert third not in (first, second)
    assert {r.status for r in store.list(DEMO_TENANT)} == {KeyStatus.ACTIVE, KeyStatus.REVOKED}
