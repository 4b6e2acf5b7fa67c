"""The fires that fell inside a pause, as the job's catch-up policy runs them when it is resumed.

A paused job's schedule is disabled, so its fires during the pause never reached the queue. On resume they
are queued with trigger ``catch_up`` under the execution id of their (job, scheduled time), so a fire that
did reach the executor before the pause took hold (and was recorded as skipped) is not run twice.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Protocol

from jobsched.execution.fire import FireMessage, Trigger, fires_at
from jobsched.jobs.models import Job
from jobsched.keyscheme import JobKey
from jobsched.scheduling.catch_up import MAX_CATCH_UP_FIRES, CatchUpPolicy, window_start
from jobsched.scheduling.expressions import fire_times, parse_timezone


class CatchUpQueue(Protocol):
    def send(self, message: FireMessage, delay_seconds: int) -> None: ...


def missed_in_pause(job: Job, paused_since: datetime, now: datetime) -> list[datetime]:
    """The fires in (paused_since, now] that the job's policy runs: none, the latest, or all within the
    window (at most MAX_CATCH_UP_FIRES, the latest)."""
    if job.catch_up.policy is CatchUpPolicy.SKIP:
        return []
    flexible = timedelta(minutes=job.schedule.flexible_window_minutes)
    # A fire exactly a window late still runs (as in the verdict): the start is exclusive, so 1 µs earlier.
    since = max(paused_since, window_start(job.catch_up, now, flexible) - timedelta(microseconds=1))
    schedule = job.schedule
    missed: deque[datetime] = deque(maxlen=MAX_CATCH_UP_FIRES)
    for instant in fire_times(
        schedule.expression,
        parse_timezone(schedule.timezone),
        since,
        anchor=job.created_at,
        start_at=schedule.start_at,
        end_at=schedule.end_at,
    ):
        if instant > now:
            break
        if not schedule.excludes(instant):  # a day the job does not fire on was not missed
            missed.append(instant)
    # Every fire of the pause was missed (none was sent), however recent: `once` runs only the latest.
    return list(missed) if job.catch_up.policy is CatchUpPolicy.ALL else list(missed)[-1:]


def catch_up_messages(key: JobKey, job: Job, times: list[datetime]) -> list[FireMessage]:
    """The fire messages of a catch-up: trigger ``catch_up``, each with its (job, time) execution id."""
    return fires_at(key, job.version, job.fire_token, times, Trigger.CATCH_UP)
