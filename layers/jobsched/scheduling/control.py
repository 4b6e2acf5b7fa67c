"""Pause, resume and the scheduling status of a tenant; moving jobs' home region. No HTTP, no AWS here.

Pause and resume only change the job item (one conditional write); schedule-sync then disables or
re-enables the schedule from the table's stream, like any other change of the job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from jobsched.api.auth import Principal
from jobsched.empty import empty_dict
from jobsched.errors import Conflict, InvalidInput, NotFound
from jobsched.jobs.models import Job, JobStatus, JobView, ScheduleState, stored_preview
from jobsched.keyscheme import JobKey

if TYPE_CHECKING:
    from jobsched.scheduling.pause_catch_up import CatchUpQueue
    from jobsched.scheduling.ports import RegionMoveStore, ScheduleControlStore

Clock = Callable[[], datetime]
NEXT_DUE_COUNT = 10
_WRITE_ATTEMPTS = 3


class RegionJobs(BaseModel):
    jobs: int = 0
    by_status: dict[str, int] = Field(default_factory=empty_dict)
    by_schedule_state: dict[str, int] = Field(default_factory=empty_dict)


class SyncLag(BaseModel):
    pending: int = Field(description="jobs whose latest change schedule-sync has not applied yet")
    oldest_pending_seconds: float = Field(description="age of the oldest change still pending; 0 when none")


class NextDue(BaseModel):
    job_id: str
    name: str
    region: str
    at: datetime


class ScheduleStatus(BaseModel):
    """The caller's own tenant only: service-wide figures (queue depths, other tenants' load) are for
    the service's operators, on the dashboards, never in a tenant's answer."""

    tenant: str
    region: str = Field(description="the region that answered")
    generated_at: datetime
    regions: dict[str, RegionJobs]
    sync: SyncLag
    next_due: list[NextDue]


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1024, description="why; kept on the job until resumed")


@dataclass
class MoveSummary:
    moved: int = 0
    already_moved: int = 0
    failed: list[str] = field(default_factory=list)


class ScheduleControl:
    def __init__(
        self,
        store: ScheduleControlStore,
        region: str,
        clock: Clock | None = None,
        catch_up_queue: CatchUpQueue | None = None,
    ) -> None:
        self._store = store
        self._region = region
        self._now = clock or (lambda: datetime.now(UTC))
        self._catch_up_queue = catch_up_queue

    def pause(self, principal: Principal, job_id: str, note: str | None = None) -> JobView:
        principal.require_write()
        return self._set_enabled(principal, job_id, enabled=False, note=note)

    def resume(self, principal: Principal, job_id: str) -> JobView:
        principal.require_write()
        return self._set_enabled(principal, job_id, enabled=True, note=None)

    def _set_enabled(self, principal: Principal, job_id: str, *, enabled: bool, note: str | None) -> JobView:
        return self.change_enabled(principal, job_id, enabled=enabled, note=note)[0]

    def change_enabled(
        self, principal: Principal, job_id: str, *, enabled: bool, note: str | None
    ) -> tuple[JobView, bool]:
        """Pause or resume one job (the caller's write role already checked): the job, and whether this
        call changed it (False: it already was so). Single and bulk pause/resume both come here."""
        key = principal.job(job_id)
        for _ in range(_WRITE_ATTEMPTS):
            job = self._store.current(key)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            principal.require_visible(job_id, job.tags)
            now = self._now()
            if job.status is JobStatus.COMPLETED:
                raise Conflict(
                    f"job {job_id} has completed (its one run is done); it cannot be paused or resumed"
                )
            if job.enabled == enabled and (enabled or note is None or note == job.pause_note):
                return JobView.of(job, now), False  # already so: idempotent, no write, same version
            if enabled:
                problem = job.schedule.first_fire_problem(now)
                if problem is not None:
                    field, why = problem
                    raise InvalidInput.field(field, f"{why}; resuming would never fire")
            changed = self._store.set_enabled(
                key,
                enabled=enabled,
                note=note,
                version=job.version,
                at=now,
                by=principal.key_id,
                next_runs=stored_preview(job.schedule, enabled, now, created_at=job.created_at),
            )
            if changed is not None:
                if enabled:
                    self._catch_up(key, changed, paused_since=job.updated_at, now=now)
                return JobView.of(changed, now), True
        raise Conflict(f"job {job_id} is being changed by other requests; retry")

    def _catch_up(self, key: JobKey, job: Job, *, paused_since: datetime, now: datetime) -> None:
        """Queue the fires the pause missed that the job's catch-up policy runs (after the resume's write:
        they carry its version, so the executor does not take them for fires of an older definition)."""
        if self._catch_up_queue is None or job.fire_token is None:
            return
        # Imported by the first resume: the fire message's model, which pauses and status reads never use.
        from jobsched.scheduling.pause_catch_up import catch_up_messages, missed_in_pause

        for message in catch_up_messages(key, job, missed_in_pause(job, paused_since, now)):
            self._catch_up_queue.send(message, 0)

    def status(self, principal: Principal) -> ScheduleStatus:
        now = self._now()
        regions: dict[str, RegionJobs] = {}
        statuses: dict[str, Counter[str]] = {}
        states: dict[str, Counter[str]] = {}
        pending_since: list[datetime] = []
        upcoming: list[NextDue] = []
        for job in self._store.tenant_jobs(principal.tenant):
            if not principal.sees(job.tags):
                continue
            statuses.setdefault(job.region, Counter())[job.status.value] += 1
            states.setdefault(job.region, Counter())[job.schedule_state.value] += 1
            if job.schedule_state is ScheduleState.PENDING:
                pending_since.append(job.updated_at)
            upcoming += _next_due(job, now)
        for region in sorted(statuses):
            regions[region] = RegionJobs(
                jobs=sum(statuses[region].values()),
                by_status=dict(sorted(statuses[region].items())),
                by_schedule_state=dict(sorted(states[region].items())),
            )
        oldest = (now - min(pending_since)).total_seconds() if pending_since else 0.0
        return ScheduleStatus(
            tenant=principal.tenant,
            region=self._region,
            generated_at=now,
            regions=regions,
            sync=SyncLag(pending=len(pending_since), oldest_pending_seconds=max(oldest, 0.0)),
            next_due=sorted(upcoming, key=lambda due: due.at)[:NEXT_DUE_COUNT],
        )


def _next_due(job: Job, now: datetime) -> list[NextDue]:
    if not job.enabled or job.status is not JobStatus.ACTIVE:
        return []
    runs = job.upcoming_runs(now)[:1]
    return [NextDue(job_id=job.job_id, name=job.name, region=job.region, at=runs[0])] if runs else []


def jobs_to_move(store: RegionMoveStore, from_region: str, tenant: str | None = None) -> list[JobKey]:
    return list(store.jobs_in_region(from_region, tenant))


def move_jobs(
    store: RegionMoveStore,
    jobs: Iterable[JobKey],
    *,
    from_region: str,
    to_region: str,
    regions: Iterable[str],
    clock: Clock | None = None,
) -> MoveSummary:
    """Re-home each job (one conditional write each); a job not in `from_region` any more is left alone.

    Safe to run twice: the second run finds nothing left to move. schedule-sync deletes each schedule in
    the old region and creates it in the new one from the stream, in each region independently.
    """
    known = set(regions)
    for region in (from_region, to_region):
        if region not in known:
            raise InvalidInput(f"{region} is not one of the configured regions {', '.join(sorted(known))}")
    if from_region == to_region:
        raise InvalidInput("--from and --to name the same region")
    now = clock or (lambda: datetime.now(UTC))
    summary = MoveSummary()
    for job in jobs:
        try:
            moved = store.move(job, from_region=from_region, to_region=to_region, at=now())
        except Exception as exc:  # one job's failure must not stop an evacuation; it is reported
            summary.failed.append(f"{job}: {exc}")
            continue
        if moved:
            summary.moved += 1
        else:
            summary.already_moved += 1
    return summary
