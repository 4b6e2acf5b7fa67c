"""What scheduling needs from the jobs table, as ports: schedule-sync's view of a job (ScheduleStateStore),
pause/resume/status (ScheduleControlStore) and region moves (RegionMoveStore), implemented by
scheduling.adapters.job_schedule_store (in-memory fake: tests/support/fakes.py). EventBridge Scheduler's port,
SchedulerGateway, stays beside the schedule definition it takes (scheduling.sync)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from jobsched.jobs.models import Job, ScheduleState
from jobsched.keyscheme import JobKey


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
