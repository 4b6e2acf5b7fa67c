"""The executor's logic: claim an execution, re-check the job, call the target, record, retry or give up.

Deliveries are at least once (Scheduler and SQS), so everything here is keyed on the execution id, which
is the same for every delivery of one fire and for every attempt of one execution. Only messages the service
made are acted on: a message must carry its job's fire token, checked before anything is claimed, deferred or
called (docs/security.md, "Fire messages and AWS targets"). The next attempt is put
on the queue *before* the failed one is recorded, so a function dying between the two loses nothing: the
claim of the next attempt wins over the late record of the previous one.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from jobsched.execution.fire import FireMessage, Trigger, chained_execution_id
from jobsched.execution.heartbeat import HeartbeatReceiver, is_heartbeat
from jobsched.execution.missed_fires import missed_fire_reason
from jobsched.execution.models import (
    Execution,
    ExecutionStatus,
    Outcome,
    SkipReason,
    backoff_delay,
    queue_delay,
)
from jobsched.execution.notifications import Notifier
from jobsched.execution.ports import (
    Claim,
    Delivery,
    ExecutionStore,
    FireQueue,
    JobReader,
    LoadedJob,
    TargetInvoker,
)
from jobsched.jobs.models import Job, JobStatus, LastExecution, OverlapPolicy
from jobsched.keyscheme import JobKey

Clock = Callable[[], datetime]


class Result(StrEnum):
    """What processing one message came to (for logs and tests; every one of them deletes the message)."""

    REJECTED = "rejected"
    DEFERRED = "deferred"
    DUPLICATE = "duplicate"
    SKIPPED = "skipped"
    SUCCEEDED = "succeeded"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    # The service's own heartbeat fire (jobsched.execution.heartbeat): recorded, nothing called.
    HEARTBEAT = "heartbeat"


class RejectReason(StrEnum):
    """Why a message was not a fire the service made (it is dropped: nothing called, nothing recorded)."""

    UNPARSEABLE = "unparseable"
    UNKNOWN_JOB = "unknown_job"
    NO_TOKEN = "no_token"  # noqa: S105 (a reason, not a secret)
    TOKEN_MISMATCH = "token_mismatch"  # noqa: S105
    FUTURE_VERSION = "future_version"


@dataclass(frozen=True)
class Rejection:
    """A dropped message, as the claims it made (the token is never part of it)."""

    reason: RejectReason
    tenant: str | None = None
    job_id: str | None = None
    trigger: str | None = None


# A job's last_execution is a summary on the job item, a global table: each write is stored in every region
# and wakes schedule-sync in every region. A scheduled run that ends as the recorded one did is written at
# most once per this interval; a different outcome, a manual run or a retry is written at once. The
# Executions API always has every execution.
LAST_EXECUTION_REFRESH = timedelta(hours=1)


def last_execution_changes(recorded: LastExecution | None, finished: Execution) -> bool:
    """Whether finishing `finished` must rewrite the job's last_execution summary."""
    if recorded is None or finished.trigger is not Trigger.SCHEDULE:
        return True
    if recorded.status != finished.status.value:
        return True
    return finished.scheduled_at - recorded.scheduled_at >= LAST_EXECUTION_REFRESH


def rejection_of(message: FireMessage, loaded: LoadedJob | None) -> Rejection | None:
    """Why `message` is not a fire of its job that the service made, or None if it is one."""
    reason: RejectReason | None = None
    if loaded is None:
        reason = RejectReason.UNKNOWN_JOB
    elif loaded.job.fire_token is None or message.fire_token is None:
        reason = RejectReason.NO_TOKEN
    elif not hmac.compare_digest(message.fire_token.encode(), loaded.job.fire_token.encode()):
        reason = RejectReason.TOKEN_MISMATCH
    elif message.job_version > loaded.job.version:
        reason = RejectReason.FUTURE_VERSION
    if reason is None:
        return None
    return Rejection(reason, message.tenant, message.job_id, message.trigger.value)


class Executor:
    def __init__(
        self,
        *,
        store: ExecutionStore,
        jobs: JobReader,
        queue: FireQueue,
        invoker: TargetInvoker,
        lease: timedelta,
        on_final_failure: Callable[[JobKey], None] = lambda job: None,
        on_finished: Callable[[ExecutionStatus, float], None] = lambda status, duration_ms: None,
        on_rejected: Callable[[Rejection], None] = lambda rejection: None,
        clock: Clock | None = None,
        heartbeat: HeartbeatReceiver | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._queue = queue
        self._invoker = invoker
        self._lease = lease
        self._on_final_failure = on_final_failure
        self._on_finished = on_finished
        self._on_rejected = on_rejected
        self._now = clock or (lambda: datetime.now(UTC))
        self._heartbeat = heartbeat
        self._notifier = notifier

    def process(self, message: FireMessage) -> Result:
        if is_heartbeat(message):
            return self._receive_heartbeat(message)
        # Verified before anything else: a forged message must not pre-claim another tenant's execution ids,
        # nor be re-queued (deferred) with the executor's own credentials.
        loaded = self._jobs.load(message.job)
        rejection = rejection_of(message, loaded)
        if rejection is not None or loaded is None:
            self.reject(rejection or Rejection(RejectReason.UNKNOWN_JOB))
            return Result.REJECTED
        now = self._now()
        if message.not_before is not None and message.not_before > now:
            self._queue.send(message, queue_delay(message.not_before, now))
            return Result.DEFERRED
        claim = Claim(
            job=message.job,
            message=message,
            execution_id=message.effective_execution_id,
            attempt=message.attempt,
            max_attempts=loaded.job.retry_policy.max_attempts,
            now=now,
            lease_until=now + self._lease,
        )
        if not self._store.claim(claim):
            return Result.DUPLICATE
        reason = self._skip_reason(message, loaded, now)
        if reason is not None:
            self._finish(claim, loaded, status=ExecutionStatus.SKIPPED, skip_reason=reason)
            return Result.SKIPPED
        return self._run(claim, loaded)

    def _receive_heartbeat(self, message: FireMessage) -> Result:
        """A heartbeat fire: recorded if it carries the heartbeat token, rejected (and counted) otherwise."""
        if self._heartbeat is None or not self._heartbeat.genuine(message):
            reason = RejectReason.NO_TOKEN if message.fire_token is None else RejectReason.TOKEN_MISMATCH
            self.reject(Rejection(reason, message.tenant, message.job_id, message.trigger.value))
            return Result.REJECTED
        self._heartbeat.receive(message, self._now())
        return Result.HEARTBEAT

    def reject(self, rejection: Rejection) -> None:
        """Report a dropped message (also one the handler could not even parse)."""
        self._on_rejected(rejection)

    def _skip_reason(self, message: FireMessage, loaded: LoadedJob, now: datetime) -> SkipReason | None:
        job = loaded.job
        automatic = (
            Trigger.SCHEDULE,
            Trigger.CHAIN,
        )  # a paused job is not run by these; run-now still runs it
        if message.trigger in automatic and (job.status is JobStatus.PAUSED or not job.enabled):
            return SkipReason.JOB_PAUSED
        if job.version > message.job_version:
            return SkipReason.JOB_CHANGED
        if message.trigger in (Trigger.SCHEDULE, Trigger.CATCH_UP) and job.schedule.excludes(
            message.scheduled_time
        ):
            return SkipReason.EXCLUDED_DATE
        if message.trigger is Trigger.SCHEDULE and message.attempt == 1:
            missed = missed_fire_reason(job, message.scheduled_time, now)
            if missed is not None:
                return missed
        if job.overlap_policy is OverlapPolicy.FORBID and self._store.earlier_run_active(
            message.job, message.effective_execution_id, message.scheduled_time, now
        ):
            return SkipReason.OVERLAP
        return None

    def _run(self, claim: Claim, loaded: LoadedJob) -> Result:
        message = claim.message
        delivery = Delivery(
            tenant=claim.job.tenant,
            execution_id=claim.execution_id,
            scheduled_at=message.scheduled_time,
            attempt=claim.attempt,
            trigger=message.trigger,
        )
        outcome = self._invoker.invoke(loaded.job, loaded.webhook_secret, delivery)
        if outcome.succeeded:
            # Before the record: a redelivery after a crash here queues the same (deduplicated) ids again.
            self._start_chain(claim, loaded.job)
            self._finish(claim, loaded, status=ExecutionStatus.SUCCEEDED, outcome=outcome)
            return Result.SUCCEEDED
        if claim.attempt < claim.max_attempts:
            self._schedule_retry(claim, loaded.job, outcome)
            return Result.RETRY_SCHEDULED
        self._finish(claim, loaded, status=ExecutionStatus.FAILED, outcome=outcome)
        self._on_final_failure(claim.job)
        return Result.FAILED

    def _start_chain(self, claim: Claim, job: Job) -> None:
        """Queue a run of each job in the successful job's on_success (one that is gone is passed over)."""
        for child_id in job.on_success:
            child = self._jobs.load(JobKey(claim.job.tenant, child_id))
            if child is None or child.job.fire_token is None:
                continue
            message = FireMessage(
                tenant=claim.job.tenant,
                job_id=child_id,
                job_version=child.job.version,
                scheduled_time=claim.message.scheduled_time,  # the parent's: a redelivery makes the same
                trigger=Trigger.CHAIN,
                execution_id=chained_execution_id(claim.message, claim.execution_id, child_id),
                parent_execution_id=claim.execution_id,
                fire_token=child.job.fire_token,
            )
            self._queue.send(message, 0)

    def _schedule_retry(self, claim: Claim, job: Job, outcome: Outcome) -> None:
        now = self._now()
        next_at = now + timedelta(seconds=backoff_delay(job.retry_policy, claim.attempt))
        delay = queue_delay(next_at, now)
        follow_up = claim.message.model_copy(
            update={
                "execution_id": claim.execution_id,
                "attempt": claim.attempt + 1,
                "not_before": next_at if delay < (next_at - now).total_seconds() else None,
            }
        )
        self._queue.send(follow_up, delay)
        self._store.await_retry(
            claim.job,
            claim.execution_id,
            claim.attempt,
            outcome,
            next_attempt_at=next_at,
            active_until=next_at + self._lease,
        )

    def _finish(
        self,
        claim: Claim,
        loaded: LoadedJob | None,
        *,
        status: ExecutionStatus,
        outcome: Outcome | None = None,
        skip_reason: SkipReason | None = None,
    ) -> None:
        execution = self._store.finish(
            claim.job,
            claim.execution_id,
            claim.attempt,
            status=status,
            finished_at=self._now(),
            outcome=outcome,
            skip_reason=skip_reason,
        )
        if execution is None:
            return
        self._on_finished(status, float(outcome.duration_ms) if outcome else 0.0)
        if loaded is not None:
            if last_execution_changes(loaded.job.last_execution, execution):
                self._jobs.record_last_execution(claim.job, execution.summary())
            if self._notifier is not None:
                self._notifier.after(claim.job.tenant, loaded.job, loaded.webhook_secret, execution)
