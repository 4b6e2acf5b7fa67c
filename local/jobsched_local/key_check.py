"""API Gateway's API key check, answered from the key records in the jobs table.

On AWS a key value is enabled in the usage plan of its tier. Locally the key records are the truth:
they survive any crash (DynamoDB Local), whereas moto's API Gateway keys are derived state that a
restart rebuilds without their values (only hashes are stored). So the gateway hashes the presented
value, reads the record (one GetItem, no cache: a new key works on its next request and a revoked one
stops on its next request), and takes the limits of its tier's usage plan from jobsched.config.TIERS,
which is what the stacks and the provisioner make the plans from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobsched import config
from jobsched.keys.models import KeyStatus, KeyStore, hash_key
from jobsched_local.throttle import PlanLimits


@dataclass(frozen=True)
class KeyInPlan:
    """An enabled API key and the usage plan that admits it to an API stage."""

    key_id: str
    plan_name: str
    limits: PlanLimits


KeyCheck = Callable[[str], KeyInPlan | None]


def tier_limits(tier: config.Tier) -> PlanLimits:
    limits = config.TIERS[tier]
    return PlanLimits(rate=limits.rate_per_second, burst=limits.burst, daily_quota=limits.daily_quota)


def table_key_check(store: KeyStore) -> KeyCheck:
    """key value -> its active record's tier plan, or None (unknown or revoked key: 403)."""

    def check(value: str) -> KeyInPlan | None:
        record = store.get_by_hash(hash_key(value))
        if record is None or record.status is not KeyStatus.ACTIVE:
            return None
        return KeyInPlan(
            key_id=record.key_id,
            plan_name=config.usage_plan_name(record.tier),
            limits=tier_limits(record.tier),
        )

    return check
