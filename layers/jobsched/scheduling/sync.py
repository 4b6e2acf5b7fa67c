"""Reconcile a job's EventBridge Scheduler schedule with the job as the table holds it (its home region only).

schedule-sync runs on the jobs table's stream in every region. A record only says *which* job changed;
what the schedule should look like is read from the table itself (a strongly consistent read of the local
replica), so a replayed or out-of-order record can never bring back a deleted job or an older version:
a record older than the stored version is skipped, and a job that is gone only ever gets its schedule
deleted. Writes of the sync's own result (schedule_state) keep the version, so they do not wake it again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from jobsched.jobs.models import Job, JobStatus, ScheduleState
from jobsched.keyscheme import JobKey
from jobsched.scheduling.catch_up import CatchUp
from jobsched.scheduling.expressions import (
    Expression,
    ExpressionError,
    ScheduleKind,
    at_time_utc,
    parse_timezone,
)
from jobsched.scheduling.ports import ScheduleStateStore

MAX_SCHEDULE_NAME = 64
MIN_EVENT_AGE_SECONDS, MAX_EVENT_AGE_SECONDS = 60, 86_400  # EventBridge Scheduler's RetryPolicy bounds
_DESCRIPTION_VERSION = re.compile(r"\bv(?P<version>\d+)$")
Clock = Callable[[], datetime]
# Told of every change that failed (the record is retried from there): logs it with the job id, counts it.
FailureReporter = Callable[["JobChange", Exception], None]
# Told of every definition the scheduler refused (recorded on the job as schedule_state=error, not retried):
# logs it with the job id; the job census counts such schedules.
RejectionReporter = Callable[[JobKey, str], None]


class ChangeKind(StrEnum):
    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


@dataclass(frozen=True)
class JobChange:
    """One stream record about a job item, reduced to what the sync needs."""

    record_id: str
    kind: ChangeKind
    tenant: str
    job_id: str
    old_version: int | None
    new_version: int | None
    # The executor recorded a finished run (the version stays): an at() job may now be complete.
    ran: bool = False
    # The job got its fire token (a job made before tokens existed): its schedule's input must carry it.
    rekeyed: bool = False

    @property
    def job(self) -> JobKey:
        return JobKey(self.tenant, self.job_id)

    @property
    def redefines(self) -> bool:
        """Whether the schedule's definition changed (anything else keeps it: sync state, last run)."""
        return self.kind is not ChangeKind.MODIFY or self.old_version != self.new_version or self.rekeyed


@dataclass(frozen=True)
class ScheduleDefinition:
    """Everything CreateSchedule/UpdateSchedule takes for one job, target excepted (the adapter adds it)."""

    name: str
    expression: Expression
    timezone: str
    start_at: datetime | None
    end_at: datetime | None
    flexible_window_minutes: int
    enabled: bool
    delete_after_completion: bool
    description: str
    # What each fire must carry (the adapter writes it into the scheduler's input template).
    job: JobKey
    version: int
    fire_token: str | None = field(default=None, repr=False)
    # How long the scheduler keeps retrying a fire it could not deliver: the job's catch-up window, within
    # what EventBridge Scheduler allows (60 s to 24 h). None: the deployment's default.
    max_event_age_seconds: int | None = None


@dataclass(frozen=True)
class ExistingSchedule:
    arn: str
    version: int | None
    enabled: bool
    fire_token: str | None = field(default=None, repr=False)  # the token its fires carry


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    COMPLETED = "completed"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    FAILED = "failed"


class ScheduleRejected(Exception):
    """The scheduler refused the definition itself (a permanent error): recorded on the job, not retried."""


class SchedulerGateway(Protocol):
    """The schedules of one region's group. Throttling and other transient errors raise and are retried."""

    def get(self, name: str) -> ExistingSchedule | None: ...

    def create(self, definition: ScheduleDefinition) -> str: ...

    def update(self, definition: ScheduleDefinition) -> str: ...

    def delete(self, name: str) -> bool: ...


@dataclass(frozen=True)
class BatchResult:
    outcomes: dict[str, Outcome]
    failed_record_id: str | None


def schedule_name(job: JobKey) -> str:
    """Deterministic and unique in the group: <tenant>.<job_id>, the tenant shortened (+hash) to fit 64."""
    tenant, job_id = job.tenant, job.job_id
    name = f"{tenant}.{job_id}"
    if len(name) <= MAX_SCHEDULE_NAME:
        return name
    digest = hashlib.sha256(tenant.encode()).hexdigest()[:8]
    room = MAX_SCHEDULE_NAME - len(job_id) - len(digest) - 2
    return f"{tenant[:room]}-{digest}.{job_id}"


def render_schedule(tenant: str, job: Job) -> ScheduleDefinition:
    """The job's schedule as EventBridge Scheduler should hold it."""
    schedule, key = job.schedule, JobKey(tenant, job.job_id)
    return ScheduleDefinition(
        name=schedule_name(key),
        expression=schedule.expression,
        timezone=schedule.timezone,
        start_at=schedule.start_at,
        end_at=schedule.end_at,
        flexible_window_minutes=schedule.flexible_window_minutes,
        enabled=job.enabled,
        # A one-off schedule removes itself after its run, so it never counts against the quota again.
        delete_after_completion=schedule.expression.kind is ScheduleKind.AT,
        description=f"jobsched {key} v{job.version}",
        job=key,
        version=job.version,
        fire_token=job.fire_token,
        max_event_age_seconds=max_event_age(job.catch_up),
    )


def max_event_age(catch_up: CatchUp) -> int:
    """The scheduler's MaximumEventAgeInSeconds for a job: its catch-up window, clamped to 60 s - 24 h."""
    return max(MIN_EVENT_AGE_SECONDS, min(MAX_EVENT_AGE_SECONDS, int(catch_up.window.total_seconds())))


def version_in_description(description: str | None) -> int | None:
    match = _DESCRIPTION_VERSION.search(description or "")
    return int(match["version"]) if match else None


class ScheduleSync:
    """Applies job changes to the schedules of one region."""

    def __init__(
        self,
        region: str,
        gateway: SchedulerGateway,
        store: ScheduleStateStore,
        clock: Clock | None = None,
        on_failure: FailureReporter = lambda change, error: None,
        on_rejected: RejectionReporter = lambda job, reason: None,
    ) -> None:
        self.region = region
        self._gateway = gateway
        self._store = store
        self._now = clock or (lambda: datetime.now(UTC))
        self._on_failure = on_failure
        self._on_rejected = on_rejected

    def process_batch(self, changes: Sequence[JobChange]) -> BatchResult:
        """In order; stops at the first transient failure so the stream retries from that record on."""
        outcomes: dict[str, Outcome] = {}
        for change in changes:
            try:
                outcomes[change.record_id] = self.apply(change)
            except Exception as exc:  # transient or not, it is reported and the stream retries it
                outcomes[change.record_id] = Outcome.FAILED
                self._on_failure(change, exc)
                return BatchResult(outcomes, change.record_id)
        return BatchResult(outcomes, None)

    def apply(self, change: JobChange) -> Outcome:
        if not change.redefines and not change.ran:
            return Outcome.SKIPPED  # our own schedule_state write, or another field that keeps the version
        job = self._store.current(change.job)
        name = schedule_name(change.job)
        if job is None:
            return Outcome.DELETED if self._gateway.delete(name) else Outcome.UNCHANGED
        if change.new_version is not None and change.new_version < job.version:
            return Outcome.SKIPPED  # a newer record of this job exists in the stream and wins
        if job.region != self.region or job.status is JobStatus.COMPLETED:
            return Outcome.DELETED if self._gateway.delete(name) else Outcome.UNCHANGED
        if self._ran_its_only_time(job):
            self._store.mark_completed(change.job, version=job.version, at=self._now())
            return Outcome.COMPLETED
        if not change.redefines:
            return Outcome.SKIPPED
        return self._upsert(change.tenant, job)

    def _upsert(self, tenant: str, job: Job) -> Outcome:
        definition = render_schedule(tenant, job)
        existing = self._gateway.get(definition.name)
        try:
            if existing is None:
                if self._one_off_in_the_past(job):
                    return Outcome.SKIPPED  # it already fired and deleted itself; never fire it again
                arn, outcome = self._gateway.create(definition), Outcome.CREATED
            elif (existing.version, existing.enabled, existing.fire_token) == (
                job.version,
                job.enabled,
                job.fire_token,
            ):
                arn, outcome = existing.arn, Outcome.UNCHANGED  # a replay: no rate-limited write
            else:
                arn, outcome = self._gateway.update(definition), Outcome.UPDATED
        except ScheduleRejected as exc:
            self._on_rejected(JobKey(tenant, job.job_id), str(exc))
            self._record(tenant, job, ScheduleState.ERROR, None, str(exc))
            return Outcome.REJECTED
        self._record(tenant, job, ScheduleState.SYNCED, arn, None)
        return outcome

    def _record(
        self, tenant: str, job: Job, state: ScheduleState, arn: str | None, error: str | None
    ) -> None:
        if job.schedule_state is state and job.schedule_arn == arn and job.schedule_error == error:
            return
        self._store.record_schedule_state(
            JobKey(tenant, job.job_id), version=job.version, state=state, arn=arn, error=error, at=self._now()
        )

    def _one_off_in_the_past(self, job: Job) -> bool:
        at = _at_time(job)
        return at is not None and at <= self._now()

    @staticmethod
    def _ran_its_only_time(job: Job) -> bool:
        at = _at_time(job)
        return at is not None and job.last_execution is not None and job.last_execution.scheduled_at >= at


def _at_time(job: Job) -> datetime | None:
    expression = job.schedule.expression
    if expression.kind is not ScheduleKind.AT:
        return None
    try:
        return at_time_utc(expression, parse_timezone(job.schedule.timezone))
    except ExpressionError:
        return None
