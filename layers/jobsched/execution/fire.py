"""The fire message: what a schedule puts on the execution queue and the executor reads.

EventBridge Scheduler fills the <aws.scheduler.*> placeholders of the schedule's input template (written by
the Scheduler adapter, jobsched.scheduling.adapters.scheduler), so the same message shape comes from AWS,
from the local runtime's schedule clock, from a run-now and from a retry. An execution is identified by
(job, scheduled time): a duplicate delivery of the same fire must never run the job twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobsched.execution.fire_tokens import new_fire_token as new_fire_token
from jobsched.execution.triggers import Trigger as Trigger
from jobsched.keyscheme import JobKey


class FireMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    job_version: int = Field(ge=1)
    scheduled_time: datetime
    trigger: Trigger = Trigger.SCHEDULE
    scheduler_execution_id: str | None = None
    scheduler_attempt: int = Field(default=1, ge=1)
    # Set by run-now, retry and the executor's own retries; a scheduled fire derives it.
    execution_id: str | None = None
    attempt: int = Field(default=1, ge=1)
    # A wait longer than SQS's 900 s delay travels in hops: the executor re-queues until this time.
    not_before: datetime | None = None
    retry_of: str | None = None
    # Who asked for a run-now or a retry (a key id, user:<sub> or client:<id>); None for schedule fires.
    triggered_by: str | None = Field(default=None, max_length=300)
    # Set on a chained run: the execution whose success started it.
    parent_execution_id: str | None = None
    # The job's secret fire token, proof that the service made this message (never logged: repr=False).
    fire_token: str | None = Field(default=None, max_length=128, repr=False)

    @field_validator("scheduled_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)

    @property
    def job(self) -> JobKey:
        """The job this message fires (tenant and job id travel as separate fields on the wire)."""
        return JobKey(self.tenant, self.job_id)

    @property
    def effective_execution_id(self) -> str:
        return self.execution_id or execution_id_for(self.job_id, self.scheduled_time)


def execution_id_for(job_id: str, scheduled_time: datetime) -> str:
    """The id of the execution of ``job_id`` due at ``scheduled_time``: the same for every delivery."""
    stamp = scheduled_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{job_id}|{stamp}".encode()).hexdigest()[:10]
    return f"exe_{stamp}_{digest}"


def fires_at(
    job: JobKey,
    version: int,
    fire_token: str | None,
    times: Iterable[datetime],
    trigger: Trigger,
    *,
    triggered_by: str | None = None,
) -> list[FireMessage]:
    """The messages of fires the service queues itself for past times (a backfill, a pause's catch-up): each
    under the execution id of its (job, time), the id the schedule's own fire had or would have had, so the
    executor's claim runs each (job, time) at most once."""
    return [
        FireMessage(
            tenant=job.tenant,
            job_id=job.job_id,
            job_version=version,
            scheduled_time=time,
            trigger=trigger,
            execution_id=execution_id_for(job.job_id, time),
            fire_token=fire_token,
            triggered_by=triggered_by,
        )
        for time in times
    ]


def chained_execution_id(parent: FireMessage, parent_execution_id: str, job_id: str) -> str:
    """The id of the run of ``job_id`` that the parent's success starts: the same however often the parent's
    success is processed (a redelivery), so the chained job runs once per parent execution."""
    stamp = parent.scheduled_time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    digest = hashlib.sha256(f"{parent_execution_id}|{job_id}".encode()).hexdigest()[:10]
    return f"exe_{stamp}_c{digest}"
