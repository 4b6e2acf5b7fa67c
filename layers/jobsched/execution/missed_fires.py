"""The executor's side of catch-up: a scheduled fire that arrives late follows its job's catch-up policy.

On AWS this is what carries the policy through an outage: fires the scheduler retried or the queue kept
while the executor's region was down arrive late, and only those the policy runs are run; the others are
recorded as skipped with the verdict as their reason (jobsched.scheduling.catch_up).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from jobsched.execution.models import SkipReason
from jobsched.jobs.models import Job
from jobsched.scheduling.catch_up import LATE_GRACE, verdict


def missed_fire_reason(job: Job, scheduled_at: datetime, now: datetime) -> SkipReason | None:
    """Why the job's fire due at ``scheduled_at`` does not run at ``now`` under its policy, or None."""
    flexible = timedelta(minutes=job.schedule.flexible_window_minutes)
    if now - (scheduled_at + flexible) <= LATE_GRACE:
        return None  # on time: the common case costs no schedule computation
    following = job.schedule.preview(after=scheduled_at, anchor=job.created_at, count=1)
    found = verdict(job.catch_up, scheduled_at, following[0] if following else None, now, flexible)
    return None if found is None else SkipReason(found.value)
