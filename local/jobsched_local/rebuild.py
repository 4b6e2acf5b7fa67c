"""What moto holds is derived state: at every start it is rebuilt from the tables in DynamoDB Local.

- Schedules: every job is reconciled by schedule-sync itself (the Lambda's logic, as if each job item
  were an INSERT on the stream), in its home region. The sync used here sees the clock one catch-up
  window (an hour) earlier, so a one-time at() job that fell due while the runtime was down, and has not
  run, gets its schedule back and fires once; one older than that stays done, as schedule-sync decides.
- API keys: every active key record is registered again in every region's API Gateway, in its tier's
  usage plan, under its own name. Only the key's hash is stored, never its value, so the rebuilt key
  carries a placeholder value; the gateway checks keys against the records (jobsched_local.key_check).
- Queues, the schedule group and usage plans are provisioned as on every start (provision.py).

Returns for each rebuilt job its schedule's name and the times that decide when it fires (created,
last redefined), which the schedule clock needs because moto's schedule dates are those of the rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keys.adapters.key_registry import ApiGatewayKeyRegistry
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.keys.models import KeyStatus
from jobsched.keyscheme import JOB_PREFIX, TENANT_PREFIX, job_key_of
from jobsched.scheduling.sync import ChangeKind, JobChange, ScheduleSync, schedule_name

LOG = logging.getLogger(__name__)
CATCH_UP_WINDOW = timedelta(hours=1)
_ATTEMPTS = 3
ClientFor = Callable[[str, str], Any]


@dataclass(frozen=True)
class JobTimes:
    """When a job was created (the anchor of its rate) and last redefined (since when it fires)."""

    created_at: datetime
    updated_at: datetime


@dataclass
class RebuildSummary:
    jobs: int = 0
    api_keys: int = 0
    failed: int = 0
    job_times: dict[str, JobTimes] = field(default_factory=dict)  # schedule name -> times


def rebuild(
    dynamodb: Any,
    syncs: Sequence[ScheduleSync],
    client_for: ClientFor,
    regions: Sequence[str],
) -> RebuildSummary:
    summary = RebuildSummary()
    rebuild_schedules(dynamodb, syncs, summary)
    summary.api_keys = rebuild_api_keys(dynamodb, client_for, regions)
    LOG.info(
        "rebuilt from the tables: %d jobs' schedules, %d API keys (%d failed)",
        summary.jobs,
        summary.api_keys,
        summary.failed,
    )
    return summary


def rebuild_schedules(dynamodb: Any, syncs: Sequence[ScheduleSync], summary: RebuildSummary) -> None:
    by_region = {sync.region: sync for sync in syncs}
    for item in job_items(dynamodb):
        job = job_key_of(item["pk"], item["sk"])
        if job is None:
            continue
        tenant, job_id = job.tenant, job.job_id
        name = schedule_name(job)
        summary.job_times[name] = JobTimes(_utc(item["created_at"]), _utc(item["updated_at"]))
        sync = by_region.get(str(item.get("region")))
        if sync is None:
            continue  # homed in a region this runtime does not emulate
        change = JobChange(
            record_id=f"rebuild:{tenant}/{job_id}",
            kind=ChangeKind.INSERT,
            tenant=tenant,
            job_id=job_id,
            old_version=None,
            new_version=int(item["version"]),
        )
        if _apply(sync, change):
            summary.jobs += 1
        else:
            summary.failed += 1


def _apply(sync: ScheduleSync, change: JobChange) -> bool:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            sync.apply(change)
            return True
        except Exception:
            if attempt == _ATTEMPTS:
                LOG.exception("could not rebuild the schedule of %s/%s", change.tenant, change.job_id)
    return False


def job_items(dynamodb: Any) -> Iterator[dict[str, Any]]:
    """Every job item of the jobs table (what decides its schedule; not its whole definition)."""
    scan = {
        "TableName": config.JOBS_TABLE,
        "FilterExpression": "begins_with(pk, :tenant) AND begins_with(sk, :job)",
        "ProjectionExpression": "pk, sk, #region, #version, created_at, updated_at",
        "ExpressionAttributeNames": {"#region": "region", "#version": "version"},
        "ExpressionAttributeValues": to_item({":tenant": TENANT_PREFIX, ":job": JOB_PREFIX}),
        "ConsistentRead": True,
    }
    for page in dynamodb.get_paginator("scan").paginate(**scan):
        for item in page.get("Items", []):
            yield from_item(item)


def rebuild_api_keys(dynamodb: Any, client_for: ClientFor, regions: Sequence[str]) -> int:
    store = DynamoKeyStore(dynamodb, config.JOBS_TABLE)
    registries = [ApiGatewayKeyRegistry(client_for("apigateway", region), region) for region in regions]
    count = 0
    for record in store.list():
        if record.status is not KeyStatus.ACTIVE:
            continue
        for registry in registries:
            registry.deregister(record.key_id)  # a start after a start within one moto: no duplicates
            registry.register(record.key_id, placeholder_value(record.key_id), record.tier)
        count += 1
    return count


def placeholder_value(key_id: str) -> str:
    """What a rebuilt API Gateway key holds instead of its value, which was never stored."""
    return f"{key_id}-value-not-stored"


def rebuild_clock(now: Callable[[], datetime] | None = None) -> Callable[[], datetime]:
    """The clock of the rebuilding schedule-sync: one catch-up window behind the real one."""
    real = now or (lambda: datetime.now(UTC))
    return lambda: real() - CATCH_UP_WINDOW


def _utc(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
