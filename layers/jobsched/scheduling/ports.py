"""What scheduling needs from the jobs table, as ports: schedule-sync's view of a job (ScheduleStateStore),
pause/resume/status (ScheduleControlStore), region moves (RegionMoveStore) and bulk pause/resume
(TenantJobPages, BulkOperationStore, BulkPageQueue), implemented by scheduling.adapters.job_schedule_store
and scheduling.adapters.bulk_store (in-memory fake: tests/support/fakes.py). EventBridge Scheduler's port,
SchedulerGateway, stays beside the schedule definition it takes (scheduling.sync)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from jobsched.jobs.models import Job, ScheduleState
from jobsched.keyscheme import JobKey

if TYPE_CHECKING:
    from jobsched.scheduling.bulk import BulkOperationRecord, BulkPageMessage


class ScheduleStateStore(Protocol):
    def current(self, job: JobKey) -> Job | None: ...

    def record_schedule_state(
        self,
        job: JobKey,
        *,
        version: int,
        state: ScheduleState,
        arn: str | None,
        error: str | None,
        at: datetime,
    ) -> bool: ...

    def mark_completed(self, job: JobKey, *, version: int, at: datetime) -> bool: ...


class ScheduleControlStore(Protocol):
    def current(self, job: JobKey) -> Job | None: ...

    def set_enabled(
        self,
        job: JobKey,
        *,
        enabled: bool,
        note: str | None,
        version: int,
        at: datetime,
        by: str,
        next_runs: list[datetime] | None = None,
    ) -> Job | None: ...

    def tenant_jobs(self, tenant: str) -> Iterator[Job]: ...


class RegionMoveStore(Protocol):
    def jobs_in_region(self, region: str, tenant: str | None = None) -> Iterator[JobKey]: ...

    def move(self, job: JobKey, *, from_region: str, to_region: str, at: datetime) -> bool: ...


class TenantJobPages(Protocol):
    """A tenant's jobs one page at a time, in job-id order, resumable from a cursor (the last job id read)."""

    def tenant_jobs(self, tenant: str) -> Iterator[Job]: ...

    def tenant_jobs_page(
        self, tenant: str, after: str | None, limit: int
    ) -> tuple[list[Job], str | None]: ...


class BulkOperationStore(Protocol):
    """Bulk pause/resume operations, in their tenant's partition of the jobs table."""

    def get(self, tenant: str, operation_id: str) -> BulkOperationRecord | None: ...

    def create(self, record: BulkOperationRecord) -> None: ...

    def save(self, record: BulkOperationRecord, *, pages_done_before: int) -> bool:
        """Write `record` if the stored one still has `pages_done_before` pages recorded and is running;
        False when it has not (another delivery recorded that page first, or the operation ended)."""
        ...


class BulkPageQueue(Protocol):
    def send(self, message: BulkPageMessage) -> None: ...
