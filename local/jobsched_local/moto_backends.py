"""The one module that reads moto's in-process backends directly instead of through its API.

Direct reads are ~100x cheaper than a mocked boto3 call, which matters on the gateway's per-request key
check and for the periodic snapshot's "did anything change?" test. They depend on moto internals
(pinned moto 5.2): keep every such access here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from moto.apigateway.models import apigateway_backends
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from jobsched_local.moto_dynamodb import operation_lock
from jobsched_local.throttle import PlanLimits

ACCOUNT_ID = DEFAULT_ACCOUNT_ID


@dataclass(frozen=True)
class KeyInPlan:
    """An enabled API key and the usage plan that admits it to an API stage."""

    key_id: str
    plan_name: str
    limits: PlanLimits


def find_key_in_plan(region: str, value: str, api_id: str, stage: str) -> KeyInPlan | None:
    """API Gateway's key check: an enabled key with this value in a usage plan attached to the stage."""
    backend = apigateway_backends[ACCOUNT_ID][region]
    key = next((k for k in list(backend.keys.values()) if k.value == value), None)
    if key is None or not key.enabled:
        return None
    for plan in list(backend.usage_plans.values()):
        attached = any(s.get("apiId") == api_id and s.get("stage") == stage for s in plan.api_stages)
        if attached and key.id in backend.usage_plan_keys.get(plan.id, {}):
            return KeyInPlan(key_id=key.id, plan_name=str(plan.name), limits=plan_limits(plan))
    return None


def plan_limits(plan: Any) -> PlanLimits:
    throttle = plan.throttle or {}
    quota = plan.quota or {}
    # Only DAY quotas are provisioned; a plan without one (or with another period) is not quota-checked.
    daily = int(quota["limit"]) if quota.get("period") == "DAY" and "limit" in quota else None
    return PlanLimits(
        rate=float(throttle.get("rateLimit", 10_000)),
        burst=int(throttle.get("burstLimit", 5_000)),
        daily_quota=daily,
    )


def api_keys(region: str) -> list[dict[str, Any]]:
    """Every API key of the region with the names of the usage plans it belongs to (for the snapshot)."""
    backend = apigateway_backends[ACCOUNT_ID][region]
    plans = list(backend.usage_plans.values())
    keys = []
    for key in sorted(list(backend.keys.values()), key=lambda k: str(k.name)):
        members = [str(p.name) for p in plans if key.id in backend.usage_plan_keys.get(p.id, {})]
        keys.append(
            {
                "name": key.name,
                "value": key.value,
                "enabled": bool(key.enabled),
                "description": key.description,
                "tags": key.tags,
                "usage_plans": sorted(members),
            }
        )
    return keys


def table_names(region: str) -> list[str]:
    return sorted(dynamodb_backends[ACCOUNT_ID][region].tables)


def table_items(region: str, table_name: str) -> list[dict[str, Any]]:
    """Every item in DynamoDB's typed JSON ({"S": ...}); binary values come base64-encoded."""
    table = dynamodb_backends[ACCOUNT_ID][region].tables[table_name]
    with operation_lock():  # a whole table, as of one moment, not items half-way through an update
        return [item.to_json()["Attributes"] for item in table.all_items()]


def change_marker(regions: Iterable[str]) -> tuple[Any, ...]:
    """Cheap value that changes whenever a table or API key changes (not necessarily only then).

    Tables: the stream's record count (every put, update and delete appends one) or, for a table
    without a stream, its item count. API keys: their ids, enabled flags and plan memberships.
    """
    marker: list[Any] = []
    for region in regions:
        for name, table in sorted(list(dynamodb_backends[ACCOUNT_ID][region].tables.items())):
            shard = table.stream_shard
            marker.append((region, name, len(shard.items) if shard is not None else _item_count(table)))
        backend = apigateway_backends[ACCOUNT_ID][region]
        marker.append(tuple(sorted((k.id, k.enabled) for k in list(backend.keys.values()))))
        marker.append(tuple(sorted((p, tuple(sorted(m))) for p, m in list(backend.usage_plan_keys.items()))))
    return tuple(marker)


def _item_count(table: Any) -> int:
    return sum(len(v) if table.has_range_key else 1 for v in list(table.items.values()))
