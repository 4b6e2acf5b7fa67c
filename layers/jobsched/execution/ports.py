"""What execution needs from outside, as ports: the executions table, the executor's view of the job, the
execution queue and the target invokers (implemented in execution.adapters and targets.adapters; in-memory
fakes in tests/support/fakes.py), and the values that cross them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from jobsched.execution.models import Execution, ExecutionStatus, Outcome, SkipReason
from jobsched.execution.triggers import Trigger
from jobsched.keyscheme import JobKey

if TYPE_CHECKING:
    from jobsched.execution.fire import FireMessage
    from jobsched.jobs.models import Job, LastExecution


@dataclass(frozen=True)
class Claim:
    """Attempt `attempt` of an execution; `lease_until` bounds how long the claimer may hold it."""

    job: JobKey
    message: FireMessage
    execution_id: str
    attempt: int
    max_attempts: int
    now: datetime
    lease_until: datetime


@dataclass(frozen=True)
class LoadedJob:
    job: Job
    webhook_secret: str | None


@dataclass(frozen=True)
class Delivery:
    """One call of a job's target: what the HTTP target puts in its headers."""

    tenant: str
    execution_id: str
    scheduled_at: datetime
    attempt: int
    trigger: Trigger


class ExecutionStore(Protocol):
    def claim(self, claim: Claim) -> bool:
        """Record the attempt as running unless it is already claimed or finished; True if this call won."""
        ...

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
        """Record the final state of the execution if `attempt` is still its latest; None otherwise."""
        ...

    def await_retry(
        self,
        job: JobKey,
        execution_id: str,
        attempt: int,
        outcome: Outcome,
        next_attempt_at: datetime,
        active_until: datetime,
    ) -> None:
        """Record a failed attempt whose next attempt is queued for `next_attempt_at`, unless a later
        attempt owns the execution already."""
        ...

    def earlier_run_active(
        self, job: JobKey, execution_id: str, scheduled_at: datetime, now: datetime
    ) -> bool:
        """True if another execution of the job, scheduled before this one, is still running."""
        ...


class JobReader(Protocol):
    def load(self, job: JobKey) -> LoadedJob | None:
        """The job as it is now, with its webhook secret; None if there is no such job."""
        ...

    def record_last_execution(self, job: JobKey, summary: LastExecution) -> None: ...


class FireQueue(Protocol):
    def send(self, message: FireMessage, delay_seconds: int) -> None: ...


class TargetInvoker(Protocol):
    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome: ...


class JobLookup(Protocol):
    def get(self, key: JobKey) -> Job:
        """The tenant's job, or NotFound (also for another tenant's job)."""
        ...

    def home(self, key: JobKey) -> tuple[str, Mapping[str, str]]:
        """The job's home region and its tags (all a history read needs of it), or NotFound as get."""
        ...


class ExecutionHistory(Protocol):
    def get(self, job: JobKey, execution_id: str) -> Execution:
        """The job's execution, or NotFound."""
        ...

    def list(
        self, job: JobKey, *, limit: int, next_token: str | None, status: ExecutionStatus | None
    ) -> tuple[list[Execution], str | None]:
        """A page of the job's executions, newest first, and the token of the next page."""
        ...

    def latest_failed(self, job: JobKey) -> Execution | None: ...
