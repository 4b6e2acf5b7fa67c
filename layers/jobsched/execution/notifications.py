"""Failure and recovery notices: once per transition of a job between healthy and failing, never per retry.

The transition is one conditional write on the job item (``notified_health``), so of two executions
finishing at once only one sends the notice; the notice goes out after that write, so a function dying in
between loses it rather than sending it twice. A ``failed`` execution (its last attempt failed) moves a job
that is not already failing to failing; a ``succeeded`` one moves a failing job back (a recovery). Skipped
executions change nothing. The channels: a webhook signed like the job's target calls (Standard Webhooks,
with the job's secret; the SSRF guard applies) and an e-mail through the region's SNS topic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from jobsched.execution.models import Execution, ExecutionStatus, NotificationRecord
from jobsched.jobs.models import Job, NotificationEvent
from jobsched.keyscheme import JobKey

Clock = Callable[[], datetime]
EVENT_TYPES = {NotificationEvent.FAILURE: "job.failed", NotificationEvent.RECOVERY: "job.recovered"}


@dataclass(frozen=True)
class Notice:
    """One notice, as every channel sends it."""

    tenant: str
    job: Job
    execution: Execution
    event: NotificationEvent
    webhook_secret: str | None

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.event]

    @property
    def webhook_id(self) -> str:
        """Stable for the transition: a receiver can deduplicate on it."""
        return f"{self.execution.execution_id}.{self.event.value}"

    @property
    def subject(self) -> str:
        verb = "failed" if self.event is NotificationEvent.FAILURE else "recovered"
        return f"jobsched: job {self.job.name[:60]} {verb}"

    def document(self) -> dict[str, object]:
        execution = self.execution
        return {
            "type": self.event_type,
            "tenant": self.tenant,
            "job_id": self.job.job_id,
            "job_name": self.job.name,
            "execution_id": execution.execution_id,
            "status": execution.status.value,
            "scheduled_at": execution.scheduled_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "attempts": execution.attempts,
            "status_code": execution.status_code,
            "error": execution.error,
        }

    def body(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()


class JobHealth(Protocol):
    def mark(self, job: JobKey, *, failing: bool) -> bool:
        """Move the job to failing (or back); True if this call made the change."""
        ...


class NotificationChannels(Protocol):
    def webhook(self, url: str, notice: Notice) -> str | None:
        """Send the notice; None when it was taken, else why not."""
        ...

    def email(self, address: str, notice: Notice) -> str | None: ...


class NotificationLog(Protocol):
    def record_notification(self, job: JobKey, execution_id: str, record: NotificationRecord) -> None: ...


class Notifier:
    def __init__(
        self,
        health: JobHealth,
        channels: NotificationChannels,
        log: NotificationLog,
        clock: Clock | None = None,
    ) -> None:
        self._health = health
        self._channels = channels
        self._log = log
        self._now = clock or (lambda: datetime.now(UTC))

    def after(
        self, tenant: str, job: Job, webhook_secret: str | None, execution: Execution
    ) -> NotificationRecord | None:
        """Send what this finished execution's result calls for, if anything; recorded on the execution."""
        wanted = job.notifications
        if wanted is None or execution.status not in (ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED):
            return None
        failing = execution.status is ExecutionStatus.FAILED
        if not self._health.mark(JobKey(tenant, job.job_id), failing=failing):
            return None  # no transition: already failing, or healthy all along
        event = NotificationEvent.FAILURE if failing else NotificationEvent.RECOVERY
        if event not in wanted.on:
            return None
        notice = Notice(tenant, job, execution, event, webhook_secret)
        channels: list[str] = []
        errors: dict[str, str] = {}
        for channel, address, send in (
            ("webhook", wanted.webhook, self._channels.webhook),
            ("email", wanted.email, self._channels.email),
        ):
            if address is None:
                continue
            channels.append(channel)
            error = send(address, notice)
            if error is not None:
                errors[channel] = error
        record = NotificationRecord(sent=event, at=self._now(), channels=channels, errors=errors)
        self._log.record_notification(JobKey(tenant, job.job_id), execution.execution_id, record)
        return record
