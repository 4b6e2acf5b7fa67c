"""Execution history, retry and run-now for a tenant's jobs. No HTTP and no AWS in here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jobsched.api.auth import Principal
from jobsched.errors import Conflict
from jobsched.execution.models import Execution, ExecutionStatus, manual_execution_id
from jobsched.execution.triggers import Trigger

if TYPE_CHECKING:
    # Annotations only: the ports' module holds the executor's values too (dataclasses: ~11 M instructions).
    from jobsched.execution.ports import ExecutionHistory, FireQueue, JobLookup
    from jobsched.jobs.models import Job

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ExecutionPage:
    items: list[Execution]
    next_token: str | None


@dataclass(frozen=True)
class Backfilled:
    job_id: str
    scheduled_times: list[datetime]


@dataclass(frozen=True)
class Queued:
    job_id: str
    execution_id: str
    trigger: Trigger
    retry_of: str | None = None


# History and fires live in the job's home region (where its schedule fires and its executor writes);
# these give the history and the execution queue of a region.
HistoryIn = Callable[[str], "ExecutionHistory"]
QueueIn = Callable[[str], "FireQueue"]


class ExecutionService:
    def __init__(
        self,
        jobs: JobLookup,
        history: ExecutionHistory | HistoryIn,
        queue: FireQueue | QueueIn,
        clock: Clock | None = None,
    ) -> None:
        self._jobs = jobs
        self._history_in: HistoryIn = history if callable(history) else (lambda region: history)
        self._queue_in: QueueIn = queue if callable(queue) else (lambda region: queue)
        self._now = clock or (lambda: datetime.now(UTC))

    def list(
        self,
        principal: Principal,
        job_id: str,
        *,
        limit: int,
        next_token: str | None,
        status: ExecutionStatus | None,
    ) -> ExecutionPage:
        key = principal.job(job_id)
        region = self._visible_home(principal, job_id)
        items, token = self._history_in(region).list(key, limit=limit, next_token=next_token, status=status)
        return ExecutionPage(items=items, next_token=token)

    def get(self, principal: Principal, job_id: str, execution_id: str) -> Execution:
        key = principal.job(job_id)
        return self._history_in(self._visible_home(principal, job_id)).get(key, execution_id)

    def run_now(self, principal: Principal, job_id: str) -> Queued:
        principal.require_write()
        job = self._visible_job(principal, job_id)
        return self._enqueue(principal, job, Trigger.MANUAL, retry_of=None)

    def retry(self, principal: Principal, job_id: str, execution_id: str | None) -> Queued:
        """Run a failed execution again, as a new execution (trigger `retry`) of the job as it is now."""
        principal.require_write()
        key = principal.job(job_id)
        job = self._visible_job(principal, job_id)
        if execution_id is None:
            source = self._history_in(job.region).latest_failed(key)
            if source is None:
                raise Conflict(f"job {job_id} has no failed execution to retry")
        else:
            source = self._history_in(job.region).get(key, execution_id)
            if source.status is not ExecutionStatus.FAILED:
                raise Conflict(
                    f"execution {execution_id} is {source.status.value}; only a failed one is retried"
                )
        return self._enqueue(principal, job, Trigger.RETRY, retry_of=source.execution_id)

    def backfill(self, principal: Principal, job_id: str, start: datetime, end: datetime) -> Backfilled:
        """Queue every fire the job's schedule would have made in [start, end] (trigger `backfill`)."""
        from jobsched.execution.backfill import backfill_messages, backfill_times, send_all

        principal.require_write()
        job = self._visible_job(principal, job_id)
        times = backfill_times(job, start, end, self._now())
        _require_fire_token(job)
        messages = backfill_messages(principal.job(job.job_id), job, times, triggered_by=principal.key_id)
        send_all(self._queue_in(job.region), messages)
        return Backfilled(job_id=job.job_id, scheduled_times=times)

    def _visible_home(self, principal: Principal, job_id: str) -> str:
        """The home region of a job the caller may see: read without building the job's model."""
        region, tags = self._jobs.home(principal.job(job_id))
        principal.require_visible(job_id, tags)
        return region

    def _visible_job(self, principal: Principal, job_id: str) -> Job:
        job = self._jobs.get(principal.job(job_id))
        principal.require_visible(job_id, job.tags)
        return job

    def _enqueue(self, principal: Principal, job: Job, trigger: Trigger, retry_of: str | None) -> Queued:
        # The fire message's model is built by the first run-now, retry or backfill of the container, not at
        # its start: a history read (most of this API's requests) never needs it.
        from jobsched.execution.fire import FireMessage

        _require_fire_token(job)
        now = self._now()
        execution_id = manual_execution_id(now)
        message = FireMessage(
            tenant=principal.tenant,
            job_id=job.job_id,
            job_version=job.version,
            scheduled_time=now,
            trigger=trigger,
            execution_id=execution_id,
            retry_of=retry_of,
            fire_token=job.fire_token,
            triggered_by=principal.key_id,
        )
        self._queue_in(job.region).send(message, 0)
        return Queued(job_id=job.job_id, execution_id=execution_id, trigger=trigger, retry_of=retry_of)


def _require_fire_token(job: Job) -> None:
    if job.fire_token is None:
        # The executor would reject the fire; say so now instead of accepting a run that never happens.
        raise Conflict(f"job {job.job_id} was made before fire tokens: save it again (PUT) so it can be run")
