"""A job's status and schedule state, and the changes its notices report: plain enums, no pydantic.

Apart from jobsched.jobs.models (which uses and re-exports them), so a function that only counts or
records them (the job census, the execution history) does not build the job models when it starts.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"


class ScheduleState(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    ERROR = "error"


class NotificationEvent(StrEnum):
    FAILURE = "failure"  # an execution failed for good after a success (or as the job's first result)
    RECOVERY = "recovery"  # the first success after such a failure
