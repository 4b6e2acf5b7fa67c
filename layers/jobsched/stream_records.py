"""DynamoDB stream records of the jobs table, as schedule-sync's JobChange; and its batch response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobsched.adapters.dynamodb import from_item
from jobsched.adapters.job_store import FIRE_TOKEN_ATTRIBUTE
from jobsched.schedule_sync import ChangeKind, JobChange, ScheduleSync

_JOB_PREFIX = "JOB#"
_TENANT_PREFIX = "TENANT#"


def job_change(record: Mapping[str, Any]) -> JobChange | None:
    """The change a record describes, or None when it is not about a job (keys, counters, idempotency)."""
    data = record.get("dynamodb") or {}
    keys = from_item(data.get("Keys") or {})
    pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
    if not (pk.startswith(_TENANT_PREFIX) and sk.startswith(_JOB_PREFIX)):
        return None
    old = from_item(data.get("OldImage") or {})
    new = from_item(data.get("NewImage") or {})
    return JobChange(
        record_id=str(data.get("SequenceNumber") or record.get("eventID") or ""),
        kind=ChangeKind(str(record.get("eventName"))),
        tenant=pk.removeprefix(_TENANT_PREFIX),
        job_id=sk.removeprefix(_JOB_PREFIX),
        old_version=_int_or_none(old.get("version")),
        new_version=_int_or_none(new.get("version")),
        ran=new.get("last_execution") is not None and new.get("last_execution") != old.get("last_execution"),
        rekeyed=bool(old) and new.get(FIRE_TOKEN_ATTRIBUTE) != old.get(FIRE_TOKEN_ATTRIBUTE),
    )


def handle_stream_event(sync: ScheduleSync, event: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a batch; report the first failed record, from which Lambda retries (ReportBatchItemFailures)."""
    changes = []
    for record in event.get("Records") or []:
        change = job_change(record)
        if change is not None:
            changes.append(change)
    result = sync.process_batch(changes)
    failures = [{"itemIdentifier": result.failed_record_id}] if result.failed_record_id else []
    return {"batchItemFailures": failures}


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
