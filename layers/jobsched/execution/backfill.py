"""Backfill: every fire a job's schedule would have made in a past range, queued as if it had run then.

Each fire keeps the execution id of its (job, scheduled time), the id the schedule's own fire had or would
have had: the executor's claim runs each (job, time) at most once, so a fire that already has an execution
(ran, failed or was skipped) is not run again, and repeating a backfill adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from jobsched.errors import InvalidInput
from jobsched.execution.fire import FireMessage, Trigger, fires_at
from jobsched.execution.ports import FireQueue
from jobsched.jobs.models import Job
from jobsched.keyscheme import JobKey
from jobsched.scheduling.expressions import parse_timezone

MAX_BACKFILL_FIRES = 1000
# Cron schedules are computed from the Unix epoch on (aws-croniter): nothing earlier can be replayed.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@runtime_checkable
class FireBatchQueue(Protocol):
    def send_many(self, messages: list[FireMessage]) -> None: ...


def backfill_times(job: Job, start: datetime, end: datetime, now: datetime) -> list[datetime]:
    """The job's fire times in [start, end] (naive times are read in the job's time zone); 422 naming
    ``from`` or ``to`` for a range that is empty, reaches into the future or holds over 1,000 fires."""
    zone = parse_timezone(job.schedule.timezone)
    start, end = _utc(start, zone, "from"), _utc(end, zone, "to")
    if start < EARLIEST:
        raise InvalidInput.field("from", "must be 1970-01-01 or later")
    if end < start:
        raise InvalidInput.field("to", "must not be before from")
    if end > now:
        raise InvalidInput.field("to", "must not be in the future: a backfill only queues past fires")
    # `from` is included: look from just before it.
    after = start - timedelta(microseconds=1)
    fires = job.schedule.preview(after=after, anchor=job.created_at, count=MAX_BACKFILL_FIRES + 1)
    fires = [fire for fire in fires if fire <= end]
    if len(fires) > MAX_BACKFILL_FIRES:
        raise InvalidInput.field(
            "to", f"the range holds more than {MAX_BACKFILL_FIRES} fires; backfill it in smaller ranges"
        )
    return fires


def backfill_messages(
    key: JobKey, job: Job, times: Iterable[datetime], *, triggered_by: str | None = None
) -> list[FireMessage]:
    """The fire messages of a backfill: trigger ``backfill``, each with its (job, time) execution id and
    who asked for it."""
    return fires_at(key, job.version, job.fire_token, times, Trigger.BACKFILL, triggered_by=triggered_by)


def send_all(queue: FireQueue, messages: list[FireMessage]) -> None:
    """Queue every message now: in batches when the queue takes them (SQS: 10 a call), else one by one."""
    if isinstance(queue, FireBatchQueue):
        queue.send_many(messages)
        return
    for message in messages:
        queue.send(message, 0)


def _utc(value: datetime, zone: ZoneInfo, name: str) -> datetime:
    try:
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    except OverflowError:
        raise InvalidInput.field(name, "is outside the years 1 to 9999 in UTC") from None
