"""The gateway's key check from key records: active keys get their tier's plan, others nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from jobsched import config
from jobsched.config import Role, Tier
from jobsched.keys.models import ApiKeyRecord, KeyStatus, hash_key
from jobsched_local.key_check import remembered_key_check, table_key_check, tier_limits
from jobsched_local.throttle import PlanLimits

NOW = datetime(2030, 1, 1, tzinfo=UTC)


class Records:
    """The KeyStore port, in memory, keyed by hash as the table is."""

    def __init__(self) -> None:
        self.by_hash: dict[str, ApiKeyRecord] = {}
        self.reads = 0

    def put(self, record: ApiKeyRecord, key_hash: str) -> None:
        self.by_hash[key_hash] = record

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        self.reads += 1
        return self.by_hash.get(key_hash)

    def get(self, key_id: str) -> ApiKeyRecord | None:
        return next((r for r in self.by_hash.values() if r.key_id == key_id), None)

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        return list(self.by_hash.values())

    def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord:
        for key_hash, record in self.by_hash.items():
            if record.key_id == key_id:
                self.by_hash[key_hash] = record.model_copy(update={"status": KeyStatus.REVOKED})
                return self.by_hash[key_hash]
        raise KeyError(key_id)


def record(key_id: str, tier: Tier) -> ApiKeyRecord:
    return ApiKeyRecord(key_id=key_id, tenant="acme", role=Role.OPERATOR, tier=tier, created_at=NOW)


def test_an_active_key_gets_its_tiers_usage_plan() -> None:
    records = Records()
    records.put(record("key_1", Tier.STANDARD), hash_key("jsk_one"))
    found = table_key_check(records)("jsk_one")
    assert found is not None
    assert (found.key_id, found.plan_name) == ("key_1", config.usage_plan_name(Tier.STANDARD))
    limits = config.TIERS[Tier.STANDARD]
    assert found.limits == PlanLimits(limits.rate_per_second, limits.burst, limits.daily_quota)
    assert tier_limits(Tier.STANDARD) == found.limits


def test_unknown_and_revoked_keys_are_not_in_any_plan_and_nothing_is_cached() -> None:
    records = Records()
    check = table_key_check(records)
    assert check("jsk_unknown") is None
    records.put(record("key_2", Tier.BASIC), hash_key("jsk_two"))
    assert check("jsk_two") is not None  # a new key works on the next request
    records.mark_revoked("key_2", NOW)
    assert check("jsk_two") is None  # and a revoked one stops on the next request
    assert records.reads == 3


def test_a_remembered_key_is_answered_from_memory_while_it_stays_registered() -> None:
    records = Records()
    records.put(record("key_3", Tier.PREMIUM), hash_key("jsk_three"))
    registered = {"key_3"}
    clock = [0.0]
    check = remembered_key_check(records, registered.__contains__, recheck_seconds=60, clock=lambda: clock[0])
    first = check("jsk_three")
    assert first is not None and first.key_id == "key_3"
    assert [check("jsk_three") for _ in range(5)] == [first] * 5
    assert records.reads == 1  # the record was read once

    clock[0] = 61.0  # past the recheck: the record is read again
    assert check("jsk_three") == first
    assert records.reads == 2

    # `keys revoke` marks the record, then removes the key from API Gateway before it returns
    records.mark_revoked("key_3", NOW)
    registered.discard("key_3")
    assert check("jsk_three") is None


def test_new_unknown_and_unregistered_keys_are_read_from_the_records_every_time() -> None:
    records = Records()
    check = remembered_key_check(records, lambda key_id: False)
    assert check("jsk_unknown") is None
    records.put(record("key_4", Tier.BASIC), hash_key("jsk_four"))
    assert check("jsk_four") is not None  # a new key works on its first request
    assert check("jsk_four") is not None  # not registered in API Gateway: never remembered
    assert records.reads == 3
