"""Executions: one run of a job for one scheduled time, its attempts, and how long to wait between them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from jobsched.empty import empty_dict
from jobsched.execution.triggers import Trigger
from jobsched.jobs.states import NotificationEvent

if TYPE_CHECKING:
    from jobsched.jobs.models import LastExecution, RetryPolicy

HISTORY_RETENTION = timedelta(days=365)  # the spec keeps 12 months of history
# The executions table keeps the last 30 days; older history is read from the archive (S3) until
# HISTORY_RETENTION. The table's TTL deletions feed the archiver.
TABLE_RETENTION = timedelta(days=30)
RESPONSE_EXCERPT_BYTES = 1024
ERROR_TEXT_CHARS = 1024
# SQS caps DelaySeconds at 900; a longer wait is taken in hops of at most this much.
MAX_QUEUE_DELAY_SECONDS = 900
MAX_BACKOFF_SECONDS = 24 * 3600


class ExecutionStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class SkipReason(StrEnum):
    JOB_DELETED = "job_deleted"
    JOB_PAUSED = "job_paused"
    JOB_CHANGED = "job_version_changed"
    OVERLAP = "overlap"
    # A missed fire the job's catch-up policy does not run (jobsched.scheduling.catch_up).
    CATCH_UP_WINDOW = "catch_up_window"
    CATCH_UP_SKIP = "catch_up_skip"
    CATCH_UP_SUPERSEDED = "catch_up_superseded"
    EXCLUDED_DATE = "excluded_date"  # the fire fell on a day of schedule.exclusions


class NotificationRecord(BaseModel):
    """The notice this execution's result sent (a failure or a recovery of its job), and how it went."""

    model_config = ConfigDict(extra="ignore")

    sent: NotificationEvent
    at: datetime
    channels: list[str] = Field(description="webhook, email")
    errors: dict[str, str] = Field(default_factory=empty_dict, description="per channel that failed: why")


class Execution(BaseModel):
    """One execution as the history keeps and the API returns it."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str
    job_id: str
    trigger: Trigger
    job_version: int
    scheduled_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = Field(default=None, description="of the last attempt's target call")
    attempts: int = Field(default=0, description="attempts started so far")
    max_attempts: int = 1
    status: ExecutionStatus
    status_code: int | None = None
    error: str | None = None
    skip_reason: SkipReason | None = None
    response_excerpt: str | None = Field(default=None, description=f"first {RESPONSE_EXCERPT_BYTES} bytes")
    next_attempt_at: datetime | None = None
    retry_of: str | None = Field(default=None, description="the execution a retry repeats")
    archived: bool = Field(
        default=False, description="read from the archive: older than the 30 days the table keeps"
    )
    triggered_by: str | None = Field(
        default=None,
        description="who asked for a run-now, retry or backfill (key id, user:<sub> or client:<id>)",
    )
    notification: NotificationRecord | None = Field(default=None, description="the notice it sent, if any")
    parent_execution_id: str | None = Field(
        default=None, description="a chained run: the run that started it"
    )

    def summary(self) -> LastExecution:
        # Imported here: only the executor records summaries, and it has the job models already; the
        # history readers (API, archiver) need not build them.
        from jobsched.jobs.models import LastExecution

        return LastExecution(
            execution_id=self.execution_id,
            status=self.status.value,
            scheduled_at=self.scheduled_at,
            finished_at=self.finished_at,
            attempts=self.attempts,
            status_code=self.status_code,
        )


class Outcome(BaseModel):
    """What one target call came to."""

    model_config = ConfigDict(frozen=True)

    succeeded: bool
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None


def backoff_delay(policy: RetryPolicy, failed_attempt: int) -> int:
    """Seconds to wait after attempt `failed_attempt` (1-based) failed: exponential, capped at a day."""
    delay = policy.backoff_seconds * policy.backoff_multiplier ** (failed_attempt - 1)
    return int(min(delay, MAX_BACKOFF_SECONDS))


def queue_delay(not_before: datetime, now: datetime) -> int:
    """The DelaySeconds of the next hop towards `not_before` (0: due now)."""
    remaining = (not_before - now).total_seconds()
    return 0 if remaining <= 0 else min(MAX_QUEUE_DELAY_SECONDS, int(remaining + 0.999))


def expires_at(scheduled_at: datetime) -> int:
    """When the table's TTL removes the execution (the archive keeps it until HISTORY_RETENTION)."""
    return int((scheduled_at + TABLE_RETENTION).timestamp())


def manual_execution_id(now: datetime) -> str:
    """A fresh id for a run-now or retry; sorts with scheduled ids by time (the stamp comes first)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"exe_{stamp}_m{secrets.token_hex(5)}"


def excerpt(data: bytes) -> str:
    return data[:RESPONSE_EXCERPT_BYTES].decode("utf-8", "replace")


def bounded_error(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_CHARS else text[: ERROR_TEXT_CHARS - 1] + "…"
