"""API Gateway's API key check, answered from the key records in the jobs table.

On AWS a key value is enabled in the usage plan of its tier. Locally the key records are the truth:
they survive any crash (DynamoDB Local), whereas moto's API Gateway keys are derived state that a
restart rebuilds without their values (only hashes are stored). So the gateway hashes the presented
value, reads the record, and takes the limits of its tier's usage plan from jobsched.config.TIERS,
which is what the stacks and the provisioner make the plans from.

`table_key_check` reads the record on every request. `remembered_key_check` answers from memory, as
API Gateway does: an active key's answer is kept (by hash) while the key is still registered in this
region's API Gateway (moto, in this process's memory: a dict lookup) and for at most RECHECK_SECONDS.
`jobsched keys revoke` marks the record revoked and then deletes the key from every region's API
Gateway before it returns, so a revoked key is refused on the first request after the command returns.
A key whose record is changed in the table by other means than the key service is refused at most
RECHECK_SECONDS later. A new key is not in memory yet: its first request reads the record, so it works
at once; unknown keys are never remembered.
"""

from __future__ import annotations

import threading
import time
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


RECHECK_SECONDS = 60.0
# our key id -> whether the key is (still) registered in this region's API Gateway
Registered = Callable[[str], bool]


@dataclass(frozen=True)
class _Remembered:
    in_plan: KeyInPlan
    until: float


def remembered_key_check(
    store: KeyStore,
    registered: Registered,
    recheck_seconds: float = RECHECK_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> KeyCheck:
    """key value -> its plan, from memory while the key stays registered (see the module's docstring)."""
    read = table_key_check(store)
    remembered: dict[str, _Remembered] = {}
    lock = threading.Lock()

    def check(value: str) -> KeyInPlan | None:
        key_hash = hash_key(value)
        with lock:
            known = remembered.get(key_hash)
        if known is not None and known.until > clock() and registered(known.in_plan.key_id):
            return known.in_plan
        in_plan = read(value)
        with lock:
            if in_plan is not None and registered(in_plan.key_id):
                remembered[key_hash] = _Remembered(in_plan, clock() + recheck_seconds)
            else:
                remembered.pop(key_hash, None)
        return in_plan

    return check


def moto_key_registered(account: str, region: str) -> Registered:
    """Whether moto's API Gateway (in this process) holds the enabled key named after our key id.

    The AWS id of each key found is kept, so a check is two dict lookups; a key not found by its id is
    looked up by name once (a new key, or one registered again by a restart's rebuild).
    """
    from moto.apigateway.models import apigateway_backends

    aws_ids: dict[str, str] = {}

    def registered(key_id: str) -> bool:
        keys = apigateway_backends[account][region].keys
        name = config.api_key_name(key_id)
        found = keys.get(aws_ids.get(key_id, ""))
        if found is None or found.name != name:
            found = next((key for key in list(keys.values()) if key.name == name), None)
            if found is None:
                aws_ids.pop(key_id, None)
                return False
            aws_ids[key_id] = found.id
        return bool(found.enabled)

    return registered
