"""In-memory fakes of the domain ports, for unit tests (no moto, no network).

Each fake keeps the state the real adapter keeps in its table or queue and answers the way the adapter does
(the same domain errors, the same conditional-write outcomes), so a service tested on them behaves as it
does on DynamoDB; tests/integration runs the real adapters against moto and DynamoDB Local.

- InMemoryJobs: the jobs table as the job logic (jobs.ports.JobStore), the executor
  (execution.ports.JobReader), the Execution API (execution.ports.JobLookup) and pause/resume/status
  (scheduling.ports: ScheduleControlStore, RegionMoveStore) see it.
- InMemoryExecutions: the executions table (execution.ports.ExecutionStore and ExecutionHistory).
- RecordingQueue, ScriptedTarget: the execution queue and a job's target.
- InMemoryBulkOperations, RecordingBulkQueue: bulk pause/resume operations and the bulk queue.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobsched.errors import LimitExceeded, NotFound, PreconditionFailed
from jobsched.execution.fire import FireMessage
from jobsched.execution.models import Execution, ExecutionStatus, Outcome, SkipReason
from jobsched.execution.ports import Claim, Delivery, LoadedJob
from jobsched.jobs.models import Job, JobSpec, JobStatus, LastExecution, ScheduleState, status_for
from jobsched.jobs.ports import IdempotencyClaim, IdempotentReplay, JobFilters
from jobsched.jobs.service import idempotency_conflict
from jobsched.keyscheme import JobKey
from jobsched.page_tokens import decode_page_token, encode_page_token
from jobsched.scheduling.bulk import BulkOperationRecord, BulkPageMessage, BulkStatus


@dataclass
class _IdempotencyRecord:
    body_hash: str
    response: dict[str, Any]
    expires_at: datetime


class InMemoryJobs:
    """Jobs, per-tenant counters, idempotency records and webhook secrets, as the jobs table holds them."""

    def __init__(self) -> None:
        self.jobs: dict[JobKey, Job] = {}
        self.secrets: dict[JobKey, str] = {}
        self.counts: dict[str, int] = {}
        self.idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
        # The audit records the store writes with a deletion or a rotation: (tenant, action, job id, who).
        self.audit: list[tuple[str, str, str, str]] = []

    # jobs.ports.JobStore

    def create(
        self,
        tenant: str,
        job: Job,
        response: dict[str, Any],
        max_jobs: int,
        claim: IdempotencyClaim | None,
        webhook_secret: str | None = None,
    ) -> None:
        if claim is not None:
            record = self.idempotency.get((tenant, claim.key))
            if record is not None and record.expires_at >= job.created_at:
                if record.body_hash == claim.body_hash:
                    raise IdempotentReplay(record.response)
                raise idempotency_conflict()
        if self.counts.get(tenant, 0) >= max_jobs:
            raise LimitExceeded(f"this tenant already has {max_jobs} jobs, the most it may have")
        key = JobKey(tenant, job.job_id)
        self.jobs[key] = job
        if webhook_secret:
            self.secrets[key] = webhook_secret
        self.counts[tenant] = self.counts.get(tenant, 0) + 1
        if claim is not None:
            self.idempotency[(tenant, claim.key)] = _IdempotencyRecord(
                claim.body_hash, response, claim.expires_at
            )

    def rotate_webhook_secret(self, key: JobKey, secret: str, at: datetime, by: str) -> None:
        self.get(key)
        self.secrets[key] = secret
        self.audit.append((key.tenant, "job.webhook_secret_rotated", key.job_id, by))

    def get(self, key: JobKey) -> Job:
        if key not in self.jobs:
            raise NotFound(f"job {key.job_id} not found")
        return self.jobs[key]

    def home(self, key: JobKey) -> tuple[str, dict[str, str]]:
        job = self.get(key)
        return job.region, dict(job.tags)

    def replace(
        self,
        key: JobKey,
        spec: JobSpec,
        *,
        expected_version: int | None,
        at: datetime,
        by: str,
        fire_token: str | None = None,
        next_runs: list[datetime] | None = None,
    ) -> Job:
        job = self.get(key)
        if expected_version is not None and job.version != expected_version:
            raise PreconditionFailed(f"job {key.job_id} has changed since that version (If-Match)")
        self.jobs[key] = _with(
            job,
            **spec.model_dump(),
            status=status_for(spec.enabled),
            version=job.version + 1,
            updated_at=at,
            updated_by=by,
            schedule_state=ScheduleState.PENDING,
            schedule_error=None,
            fire_token=job.fire_token or fire_token,
            next_runs=next_runs,
        )
        return self.jobs[key]

    def delete(self, key: JobKey, *, expected_version: int | None, at: datetime, by: str) -> None:
        job = self.get(key)
        if expected_version is not None and job.version != expected_version:
            raise PreconditionFailed(f"job {key.job_id} has changed since that version (If-Match)")
        del self.jobs[key]
        self.secrets.pop(key, None)
        self.counts[key.tenant] -= 1
        self.audit.append((key.tenant, "job.deleted", key.job_id, by))

    def list(
        self, tenant: str, limit: int, start_after: str | None, filters: JobFilters
    ) -> tuple[list[Job], str | None]:
        ids = sorted(key.job_id for key in self.jobs if key.tenant == tenant)
        after = [job_id for job_id in ids if start_after is None or job_id > start_after]
        page = after[:limit]
        jobs = [self.jobs[JobKey(tenant, job_id)] for job_id in page]
        # DynamoDB filters after it reads a page, so a page may hold fewer items than `limit`.
        kept = [job for job in jobs if _matches(job, filters)]
        return kept, (page[-1] if len(after) > limit else None)

    # execution.ports.JobReader and JobLookup

    def load(self, job: JobKey) -> LoadedJob | None:
        found = self.jobs.get(job)
        return LoadedJob(job=found, webhook_secret=self.secrets.get(job)) if found else None

    def record_last_execution(self, job: JobKey, summary: LastExecution) -> None:
        found = self.jobs.get(job)
        if found is None:
            return
        last = found.last_execution
        if last is None or last.scheduled_at <= summary.scheduled_at:
            self.jobs[job] = _with(found, last_execution=summary)

    # scheduling.ports.ScheduleControlStore

    def current(self, job: JobKey) -> Job | None:
        return self.jobs.get(job)

    def set_enabled(
        self,
        key: JobKey,
        *,
        enabled: bool,
        note: str | None,
        version: int,
        at: datetime,
        by: str,
        next_runs: builtins.list[datetime] | None = None,
    ) -> Job | None:
        job = self.jobs.get(key)
        if job is None or job.version != version:
            return None
        self.jobs[key] = _with(
            job,
            enabled=enabled,
            status=JobStatus.ACTIVE if enabled else JobStatus.PAUSED,
            updated_at=at,
            updated_by=by,
            version=job.version + 1,
            schedule_state=ScheduleState.PENDING,
            pause_note=note,
            next_runs=next_runs,
        )
        return self.jobs[key]

    def tenant_jobs(self, tenant: str) -> Iterator[Job]:
        for key in sorted(self.jobs):
            if key.tenant == tenant:
                yield self.jobs[key]

    def tenant_jobs_page(
        self, tenant: str, after: str | None, limit: int
    ) -> tuple[builtins.list[Job], str | None]:
        keys = [
            key for key in sorted(self.jobs) if key.tenant == tenant and (after is None or key.job_id > after)
        ]
        page = [self.jobs[key] for key in keys[:limit]]
        # DynamoDB names a next page when the page is full, even if nothing follows it: so does this.
        return page, (page[-1].job_id if page and len(page) == limit else None)

    # scheduling.ports.RegionMoveStore

    def jobs_in_region(self, region: str, tenant: str | None = None) -> Iterator[JobKey]:
        for key in sorted(self.jobs):
            if self.jobs[key].region == region and tenant in (None, key.tenant):
                yield key

    def move(self, key: JobKey, *, from_region: str, to_region: str, at: datetime) -> bool:
        job = self.jobs.get(key)
        if job is None or job.region != from_region:
            return False
        self.jobs[key] = _with(
            job,
            region=to_region,
            updated_at=at,
            version=job.version + 1,
            schedule_state=ScheduleState.PENDING,
        )
        return True


def _with(job: Job, **changes: Any) -> Job:
    """The job with `changes`, validated like a job read back from the table (the token kept)."""
    token = changes.pop("fire_token", job.fire_token)
    return Job.model_validate({**job.model_dump(), **changes, "fire_token": token})


def _matches(job: Job, filters: JobFilters) -> bool:
    return (
        (filters.status is None or job.status is filters.status)
        and (filters.enabled is None or job.enabled is filters.enabled)
        and (filters.tag is None or job.tags.get(filters.tag[0]) == filters.tag[1])
        and (filters.name_prefix is None or job.name.startswith(filters.name_prefix))
    )


@dataclass
class _Record:
    execution: Execution
    lease_until: datetime | None
    active_until: datetime | None


class InMemoryExecutions:
    """The executions table: claims by attempt and lease, final records, the history pages."""

    def __init__(self) -> None:
        self.records: dict[tuple[JobKey, str], _Record] = {}

    # execution.ports.ExecutionStore

    def claim(self, claim: Claim) -> bool:
        key = (claim.job, claim.execution_id)
        record = self.records.get(key)
        if record is not None:
            running = record.execution.status is ExecutionStatus.RUNNING
            later = record.execution.attempts < claim.attempt
            lapsed = (
                record.execution.attempts == claim.attempt
                and record.lease_until is not None
                and record.lease_until < claim.now
            )
            if not (running and (later or lapsed)):
                return False
        message = claim.message
        previous = record.execution if record else None
        self.records[key] = _Record(
            Execution(
                execution_id=claim.execution_id,
                job_id=claim.job.job_id,
                trigger=previous.trigger if previous else message.trigger,
                job_version=previous.job_version if previous else message.job_version,
                scheduled_at=message.scheduled_time,
                started_at=previous.started_at if previous else claim.now,
                attempts=claim.attempt,
                max_attempts=claim.max_attempts,
                status=ExecutionStatus.RUNNING,
                retry_of=message.retry_of,
            ),
            lease_until=claim.lease_until,
            active_until=claim.lease_until,
        )
        return True

    def finish(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        *,
        status: ExecutionStatus,
        finished_at: datetime,
        outcome: Outcome | None,
        skip_reason: SkipReason | None,
    ) -> Execution | None:
        fields: dict[str, Any] = {"status": status, "finished_at": finished_at, "skip_reason": skip_reason}
        return self._update_attempt(job, execution_id, attempt, fields, outcome, active_until=None)

    def await_retry(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        outcome: Outcome,
        next_attempt_at: datetime,
        active_until: datetime,
    ) -> None:
        fields = {"next_attempt_at": next_attempt_at}
        self._update_attempt(job, execution_id, attempt, fields, outcome, active_until=active_until)

    def earlier_run_active(
        self, job: JobKey, execution_id: str, scheduled_at: datetime, now: datetime
    ) -> bool:
        mine = (scheduled_at, execution_id)
        return any(
            record.execution.status is ExecutionStatus.RUNNING
            and record.active_until is not None
            and record.active_until > now
            and (record.execution.scheduled_at, other_id) < mine
            for (key, other_id), record in self.records.items()
            if key == job and other_id != execution_id
        )

    def _update_attempt(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        fields: dict[str, Any],
        outcome: Outcome | None,
        *,
        active_until: datetime | None,
    ) -> Execution | None:
        record = self.records.get((job, execution_id))
        if record is None or record.execution.attempts != attempt:
            return None
        if record.execution.status is not ExecutionStatus.RUNNING:
            return None
        measured = {
            "duration_ms": outcome.duration_ms if outcome else None,
            "status_code": outcome.status_code if outcome else None,
            "error": outcome.error if outcome else None,
            "response_excerpt": outcome.response_excerpt if outcome else None,
        }
        execution = record.execution.model_copy(update={**measured, **fields})
        self.records[(job, execution_id)] = _Record(execution, lease_until=None, active_until=active_until)
        return execution

    # execution.ports.ExecutionHistory

    def get(self, job: JobKey, execution_id: str) -> Execution:
        record = self.records.get((job, execution_id))
        if record is None:
            raise NotFound(f"execution {execution_id} of job {job.job_id} not found")
        return record.execution

    def list(
        self, job: JobKey, *, limit: int, next_token: str | None, status: ExecutionStatus | None
    ) -> tuple[list[Execution], str | None]:
        ids = sorted((eid for key, eid in self.records if key == job), reverse=True)
        if next_token is not None:
            after = _decode(next_token)
            ids = [eid for eid in ids if eid < after]
        page = ids[:limit]
        items = [self.records[(job, eid)].execution for eid in page]
        kept = [item for item in items if status is None or item.status is status]
        return kept, (_encode(page[-1]) if len(ids) > limit else None)

    def latest_failed(self, job: JobKey) -> Execution | None:
        failed = [
            record.execution
            for (key, _), record in self.records.items()
            if key == job and record.execution.status is ExecutionStatus.FAILED
        ]
        return max(failed, key=lambda execution: execution.execution_id, default=None)


def _encode(execution_id: str) -> str:
    return encode_page_token(execution_id)


def _decode(token: str) -> str:
    return decode_page_token(token, "exe_")


@dataclass
class RecordingQueue:
    """The execution queue (execution.ports.FireQueue): what was sent, with its delay."""

    sent: list[tuple[FireMessage, int]] = field(default_factory=list)

    def send(self, message: FireMessage, delay_seconds: int) -> None:
        self.sent.append((message, delay_seconds))

    @property
    def messages(self) -> list[FireMessage]:
        return [message for message, _ in self.sent]


@dataclass
class ScriptedTarget:
    """A job's target (execution.ports.TargetInvoker): answers the scripted outcomes in turn (then the
    last one again) and records every call."""

    outcomes: list[Outcome] = field(
        default_factory=lambda: [Outcome(succeeded=True, duration_ms=5, status_code=200)]
    )
    calls: list[tuple[str, str | None, Delivery]] = field(default_factory=list)

    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome:
        self.calls.append((job.job_id, secret, delivery))
        return self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]


class InMemoryBulkOperations:
    """Bulk operations as their items hold them, with the page-count condition of DynamoBulkOperationStore."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], BulkOperationRecord] = {}

    def get(self, tenant: str, operation_id: str) -> BulkOperationRecord | None:
        return self.records.get((tenant, operation_id))

    def create(self, record: BulkOperationRecord) -> None:
        key = (record.tenant, record.operation.operation_id)
        assert key not in self.records
        self.records[key] = record

    def save(self, record: BulkOperationRecord, *, pages_done_before: int) -> bool:
        key = (record.tenant, record.operation.operation_id)
        stored = self.records.get(key)
        if stored is None or stored.pages_done != pages_done_before:
            return False
        if stored.operation.status is not BulkStatus.RUNNING:
            return False
        self.records[key] = record
        return True


class RecordingBulkQueue:
    def __init__(self) -> None:
        self.sent: list[BulkPageMessage] = []

    def send(self, message: BulkPageMessage) -> None:
        self.sent.append(message)

    def take(self) -> list[BulkPageMessage]:
        taken, self.sent = self.sent, []
        return taken


def stored_job(job_id: str, now: datetime, **fields: Any) -> Job:
    """A job as the store holds it: active, synced, an hourly webhook made a day before `now`."""
    base: dict[str, Any] = {
        "job_id": job_id,
        "name": f"job {job_id}",
        "region": "us-east-1",
        "version": 1,
        "created_at": now - timedelta(days=1),
        "updated_at": now - timedelta(minutes=1),
        "created_by": "k",
        "updated_by": "k",
        "status": "active",
        "schedule_state": "synced",
        "schedule": {"expression": "rate(1 hour)"},
        "target": {"url": "https://hooks.example.com/a"},
    }
    return Job.model_validate(base | fields)
