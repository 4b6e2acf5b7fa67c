"""KeyService with the real adapters against moto: one key value in every region's usage plan, only its hash
in the table, revocation everywhere, and nothing left behind when a region refuses."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.errors import InvalidInput, NotFound
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.models import KeyService, KeyStatus, hash_key
from jobsched_local.provision import ensure_api


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def service(aws: None) -> KeyService:
    for region in config.REGIONS:
        ensure_api(clients("apigateway", region))
    return make_key_service(clients, config.PRIMARY_REGION, config.REGIONS)


def keys_in(region: str) -> list[dict[str, Any]]:
    return clients("apigateway", region).get_api_keys(includeValues=True)["items"]


def plan_members(region: str, tier: str) -> list[str]:
    client = clients("apigateway", region)
    plan = next(p for p in client.get_usage_plans()["items"] if p["name"] == config.usage_plan_name(tier))
    return [k["value"] for k in client.get_usage_plan_keys(usagePlanId=plan["id"])["items"]]


def table_items() -> list[dict[str, Any]]:
    return clients("dynamodb", config.PRIMARY_REGION).scan(TableName=config.JOBS_TABLE)["Items"]


def test_create_registers_the_same_value_in_every_region_and_stores_only_its_hash(
    service: KeyService,
) -> None:
    record, value = service.create("acme", "standard", "operator")
    assert value.startswith("jsk_") and len(value) >= 40
    for region in config.REGIONS:
        (key,) = keys_in(region)
        assert key["value"] == value
        assert key["name"] == config.api_key_name(record.key_id)
        assert key["enabled"] is True
        assert plan_members(region, "standard") == [value]
        assert plan_members(region, "basic") == []
    (item,) = table_items()
    assert item["pk"] == {"S": f"APIKEY#{hash_key(value)}"}
    assert value not in repr(item)
    assert item["tenant"] == {"S": "acme"} and item["role"] == {"S": "operator"}


def test_list_by_tenant(service: KeyService) -> None:
    a1, _ = service.create("tenant-a", "basic", "viewer")
    a2, _ = service.create("tenant-a", "premium", "admin")
    b1, _ = service.create("tenant-b", "basic", "viewer")
    assert {r.key_id for r in service.list("tenant-a")} == {a1.key_id, a2.key_id}
    assert {r.key_id for r in service.list()} == {a1.key_id, a2.key_id, b1.key_id}
    assert service.list("nobody") == []


def test_revoke_marks_the_record_and_removes_the_key_in_every_region(service: KeyService) -> None:
    record, _ = service.create("acme", "basic", "admin")
    kept, kept_value = service.create("acme", "basic", "viewer")
    revoked = service.revoke(record.key_id)
    assert revoked.status is KeyStatus.REVOKED and revoked.revoked_at is not None
    statuses = {r.key_id: r.status for r in service.list("acme")}
    assert statuses == {record.key_id: KeyStatus.REVOKED, kept.key_id: KeyStatus.ACTIVE}
    for region in config.REGIONS:
        assert [k["value"] for k in keys_in(region)] == [kept_value]


def test_revoking_an_unknown_key_is_not_found(service: KeyService) -> None:
    with pytest.raises(NotFound, match="key_nope"):
        service.revoke("key_nope")


def test_a_bad_tenant_is_refused_before_anything_is_written(service: KeyService) -> None:
    with pytest.raises(InvalidInput, match="tenant"):
        service.create("Not A Tenant", "basic", "viewer")
    assert all(keys_in(region) == [] for region in config.REGIONS)


def test_a_region_without_the_usage_plan_fails_the_create_and_leaves_nothing(service: KeyService) -> None:
    last = clients("apigateway", config.REGIONS[-1])
    plan = next(p for p in last.get_usage_plans()["items"] if p["name"] == config.usage_plan_name("premium"))
    last.delete_usage_plan(usagePlanId=plan["id"])
    with pytest.raises(NotFound, match=config.REGIONS[-1]):
        service.create("acme", "premium", "admin")
    assert all(keys_in(region) == [] for region in config.REGIONS)
    assert table_items() == []
    # The other tiers still work in that region.
    service.create("acme", "basic", "admin")
    assert all(len(keys_in(region)) == 1 for region in config.REGIONS)
