"""DynamoDB stream records of the jobs table, as schedule-sync's JobChange; and its batch response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jobsched.aws.dynamodb import from_item
from jobsched.jobs.adapters.job_store import FIRE_TOKEN_ATTRIBUTE
from jobsched.keyscheme import JobKey, job_key_of
from jobsched.scheduling.sync import ChangeKind, JobChange, ScheduleSync
from jobsched.telemetry import record_schedule_sync_failure

_IMAGE_ATTRIBUTES = ("version", "last_execution", FIRE_TOKEN_ATTRIBUTE)


def job_change(record: Mapping[str, Any]) -> JobChange | None:
    """The change a record describes, or None when it is not about a job (keys, counters, idempotency)."""
    data = record.get("dynamodb") or {}
    keys = from_item(data.get("Keys") or {})
    job = job_key_of(keys.get("pk", ""), keys.get("sk", ""))
    if job is None:
        return None
    old = _image(data.get("OldImage"))
    new = _image(data.get("NewImage"))
    return JobChange(
        record_id=_record_id(record),
        kind=ChangeKind(str(record.get("eventName"))),
        tenant=job.tenant,
        job_id=job.job_id,
        old_version=_int_or_none(old.get("version")),
        new_version=_int_or_none(new.get("version")),
        ran=new.get("last_execution") is not None and new.get("last_execution") != old.get("last_execution"),
        rekeyed=bool(old) and new.get(FIRE_TOKEN_ATTRIBUTE) != old.get(FIRE_TOKEN_ATTRIBUTE),
    )


def handle_stream_event(sync: ScheduleSync, event: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a batch; report the first failed record, from which Lambda retries (ReportBatchItemFailures).

    A job's record that cannot be read (an unknown event name, an image that does not parse) fails like a
    change that could not be applied: the changes before it are applied, it is logged with its job and
    counted, and it is reported, so the stream retries from it and gives up into the sync DLQ.
    """
    changes: list[JobChange] = []
    for record in event.get("Records") or []:
        try:
            change = job_change(record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            job = _job_of(record)
            if job is None:
                raise  # not even its key can be read: the whole batch fails and Lambda logs why
            result = sync.process_batch(changes)
            if result.failed_record_id is not None:
                return {"batchItemFailures": [{"itemIdentifier": result.failed_record_id}]}
            record_schedule_sync_failure(job, exc)
            return {"batchItemFailures": [{"itemIdentifier": _record_id(record)}]}
        if change is not None:
            changes.append(change)
    result = sync.process_batch(changes)
    failures = [{"itemIdentifier": result.failed_record_id}] if result.failed_record_id else []
    return {"batchItemFailures": failures}


def _job_of(record: Mapping[str, Any]) -> JobKey | None:
    try:
        keys = from_item((record.get("dynamodb") or {}).get("Keys") or {})
        return job_key_of(keys.get("pk", ""), keys.get("sk", ""))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _record_id(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber") or record.get("eventID") or "")


def _image(image: Any) -> dict[str, Any]:
    """The attributes schedule-sync reads from an item image, typed values made plain.

    Only these are read, so an attribute the sync does not need can never fail a record. DynamoDB Local
    writes an empty map into stream images as {} instead of {"M": {}}; it is read as the empty map.
    """
    if not isinstance(image, Mapping):
        return {}
    wanted = {name: _repair(image[name]) for name in _IMAGE_ATTRIBUTES if name in image}
    return from_item(wanted)


def _repair(value: Any) -> Any:
    if value == {}:
        return {"M": {}}
    if isinstance(value, Mapping) and set(value) == {"M"} and isinstance(value["M"], Mapping):
        return {"M": {k: _repair(v) for k, v in value["M"].items()}}
    if isinstance(value, Mapping) and set(value) == {"L"} and isinstance(value["L"], list):
        return {"L": [_repair(v) for v in value["L"]]}
    return value


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None
