"""What the job logic needs from outside: the job store port, implemented on DynamoDB by
jobs.adapters.job_store (in-memory fake: tests/support/fakes.py), and the values that cross it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from jobsched.jobs.models import Job, JobSpec, JobStatus
from jobsched.keyscheme import JobKey


@dataclass(frozen=True)
class IdempotencyClaim:
    key: str
    body_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class JobFilters:
    status: JobStatus | None = None
    enabled: bool | None = None
    tag: tuple[str, str] | None = None
    name_prefix: str | None = None
    # The caller's tag scope: only jobs carrying every one of these tags.
    scope_tags: tuple[tuple[str, str], ...] = ()


class IdempotentReplay(Exception):
    """The idempotency key was used before with the same body: here is what that request returned."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("idempotent replay")
        self.response = response


class JobStore(Protocol):
    def create(
        self,
        tenant: str,
        job: Job,
        response: dict[str, Any],
        max_jobs: int,
        claim: IdempotencyClaim | None,
        webhook_secret: str | None = None,
    ) -> None:
        """Store a new job, count it against `max_jobs` (LimitExceeded) and, with a claim, record the
        response under the idempotency key; IdempotentReplay if the key was used with the same body before,
        Conflict if with another."""
        ...

    def rotate_webhook_secret(self, key: JobKey, secret: str, at: datetime, by: str) -> None:
        """Store the job's new webhook secret and record who rotated it in the tenant's audit trail."""
        ...

    def get(self, key: JobKey) -> Job:
        """The job, or NotFound (also for another tenant's job: the key holds the caller's tenant)."""
        ...

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
        """Replace the spec; `fire_token` is stored only if the job has none yet; `next_runs` is the new
        stored preview (None: dropped, so reads compute it)."""
        ...

    def delete(self, key: JobKey, *, expected_version: int | None, at: datetime, by: str) -> None:
        """Delete the job, count it off its tenant and record who deleted it in the tenant's audit trail;
        NotFound, or PreconditionFailed on a stale version."""
        ...

    def list(
        self, tenant: str, limit: int, start_after: str | None, filters: JobFilters
    ) -> tuple[list[Job], str | None]:
        """A page of the tenant's jobs in creation order, after job id `start_after`; and the last job id
        of the page when more may follow."""
        ...
