"""Bulk pause and resume: every job of a tenant that carries a tag and/or whose name starts with a prefix,
each through the same per-job logic as a single pause or resume (ScheduleControl.change_enabled). No HTTP,
no AWS.

Up to `inline_limit` matching jobs are done within the request. Beyond that the operation is recorded as
running and the bulk worker (functions/bulk_worker) takes it on, one page of the tenant's jobs per queue
message, so each invocation does bounded work:
- the operation item holds the page cursor and how many pages it has recorded; a page's counters are written
  with a condition on that number, so a redelivered message never counts a page twice;
- the next page's message is sent once its predecessor is recorded. When that send failed, the message of
  the recorded page comes back (a redelivery) and sends it again; any other message of a page already
  recorded is dropped;
- a page that keeps failing (BULK_MAX_RECEIVES deliveries) ends the operation as failed, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from jobsched import config
from jobsched.api.auth import Principal, TagScope, principal_from_context
from jobsched.api.models import parse_tag_filter
from jobsched.empty import empty_list
from jobsched.errors import DomainError, InvalidInput, NotFound
from jobsched.jobs.models import Job, JobStatus
from jobsched.scheduling.control import ScheduleControl

if TYPE_CHECKING:
    from jobsched.scheduling.ports import BulkOperationStore, BulkPageQueue, TenantJobPages

Clock = Callable[[], datetime]
PAGE_SIZE = 100  # jobs of the tenant read (and, if they match, changed) per worker invocation
MAX_FAILURES_SHOWN = 20
OPERATION_TTL = timedelta(days=7)
OPERATION_ID_PATTERN = r"^bulk_[0-9a-z]{26}$"
_OPERATION_ID = re.compile(OPERATION_ID_PATTERN)


def new_operation_id() -> str:
    from ulid import ULID  # only starting an operation needs it; the worker's pages never do

    return "bulk_" + str(ULID()).lower()


class BulkAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"


class BulkStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class BulkRequest(BaseModel):
    """The body of POST /api/v1/schedule/bulk: give `tag`, `name_prefix` or both (a job must match both)."""

    model_config = ConfigDict(extra="forbid")

    action: BulkAction
    tag: str | None = Field(
        default=None,
        max_length=400,
        description="key:value; the jobs carrying this tag",
        examples=["team:billing"],
    )
    name_prefix: str | None = Field(
        default=None, min_length=1, max_length=128, description="the jobs whose name starts with this"
    )
    note: str | None = Field(
        default=None, max_length=1024, description="pause only: why; kept on each job until it is resumed"
    )

    def check(self) -> None:
        """What the schema cannot say: a filter is required, the tag's form, a note only with a pause."""
        if self.tag is None and self.name_prefix is None:
            message = "give tag, name_prefix or both: a bulk action acts on the jobs they select"
            raise InvalidInput(
                f"tag, name_prefix: {message}",
                [{"field": "tag", "message": message}, {"field": "name_prefix", "message": message}],
            )
        parse_tag_filter(self.tag)
        if self.note is not None and self.action is BulkAction.RESUME:
            raise InvalidInput.field("note", "only a pause takes a note")

    def matches(self, job: Job) -> bool:
        tag = parse_tag_filter(self.tag)
        if tag is not None and job.tags.get(tag[0]) != tag[1]:
            return False
        return self.name_prefix is None or job.name.startswith(self.name_prefix)


class BulkFailure(BaseModel):
    job_id: str
    reason: str


class BulkOperation(BaseModel):
    """A bulk pause or resume: what was asked, and its counters so far (final once it is completed)."""

    operation_id: str
    status: BulkStatus
    request: BulkRequest
    matched: int = Field(default=0, description="jobs that match the filter and that the caller may see")
    changed: int = Field(default=0, description="jobs this operation paused or resumed")
    unchanged: int = Field(default=0, description="jobs that already were so")
    skipped: int = Field(default=0, description="completed jobs, and jobs deleted since they were listed")
    failed: int = Field(default=0, description="jobs that could not be changed; see failures")
    failures: list[BulkFailure] = Field(
        default_factory=empty_list, description=f"the first {MAX_FAILURES_SHOWN} failed jobs and why"
    )
    error: str | None = Field(default=None, description="why the operation stopped (status failed)")
    created_at: datetime
    updated_at: datetime


@dataclass
class Tally:
    """What one batch of matching jobs came to."""

    matched: int = 0
    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failures: list[BulkFailure] = field(default_factory=list)


@dataclass(frozen=True)
class BulkOperationRecord:
    """The stored operation: its view, and what only the worker reads (who asked, where it is)."""

    tenant: str
    operation: BulkOperation
    # The caller, as the authorizer described it (Principal.as_context): its tag scope and audit id apply
    # to every page, whoever's worker runs it.
    caller: dict[str, str]
    pages_done: int = 0
    cursor: str | None = None  # the last job id read; None: from the start (or, once completed, no more)

    @property
    def expires_at(self) -> datetime:
        return self.operation.created_at + OPERATION_TTL

    def after(self, tally: Tally, *, cursor: str | None, done: bool, at: datetime) -> BulkOperationRecord:
        op = self.operation
        failures = [*op.failures, *tally.failures][:MAX_FAILURES_SHOWN]
        operation = op.model_copy(
            update={
                "status": BulkStatus.COMPLETED if done else BulkStatus.RUNNING,
                "matched": op.matched + tally.matched,
                "changed": op.changed + tally.changed,
                "unchanged": op.unchanged + tally.unchanged,
                "skipped": op.skipped + tally.skipped,
                "failed": op.failed + len(tally.failures),
                "failures": failures,
                "updated_at": at,
            }
        )
        return replace(self, operation=operation, pages_done=self.pages_done + 1, cursor=cursor)

    def failed_with(self, error: str, at: datetime) -> BulkOperationRecord:
        operation = self.operation.model_copy(
            update={"status": BulkStatus.FAILED, "error": error[:1024], "updated_at": at}
        )
        return replace(self, operation=operation)


class BulkPageMessage(BaseModel):
    """One page of a running operation, for the bulk worker (its queue is an edge: validated, not trusted)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(min_length=1, max_length=128)
    operation_id: str = Field(pattern=OPERATION_ID_PATTERN)
    page: int = Field(ge=0)

    def following(self) -> BulkPageMessage:
        return self.model_copy(update={"page": self.page + 1})


class PageOutcome(StrEnum):
    RECORDED = "recorded"  # a page done and counted, the next one queued
    FINISHED = "finished"  # the last page done and counted: the operation is completed
    RESENT = "resent"  # a redelivery of the last recorded page: the next page's message sent again
    DUPLICATE = "duplicate"  # a page recorded already (or not this one's turn): nothing done
    GONE = "gone"  # no such operation running (expired, completed or failed): nothing done


class BulkControl:
    def __init__(
        self,
        control: ScheduleControl,
        jobs: TenantJobPages,
        operations: BulkOperationStore,
        queue: BulkPageQueue,
        *,
        inline_limit: int = config.BULK_INLINE_LIMIT,
        page_size: int = PAGE_SIZE,
        clock: Clock | None = None,
        new_id: Callable[[], str] = new_operation_id,
    ) -> None:
        self._control = control
        self._jobs = jobs
        self._operations = operations
        self._queue = queue
        self._inline_limit = inline_limit
        self._page_size = page_size
        self._now = clock or (lambda: datetime.now(UTC))
        self._new_id = new_id

    def start(self, principal: Principal, request: BulkRequest) -> BulkOperation:
        """Completed when few jobs match (done here), else running (the worker goes on from page 0)."""
        principal.require_write()
        request.check()
        matching: list[Job] = []
        for job in self._jobs.tenant_jobs(principal.tenant):
            if _selected(request, principal, job):
                matching.append(job)
                if len(matching) > self._inline_limit:
                    break
        now = self._now()
        operation = BulkOperation(
            operation_id=self._new_id(),
            status=BulkStatus.RUNNING,
            request=request,
            created_at=now,
            updated_at=now,
        )
        record = BulkOperationRecord(principal.tenant, operation, principal.as_context())
        if len(matching) <= self._inline_limit:
            tally = self._apply(principal, request, matching)
            record = record.after(tally, cursor=None, done=True, at=self._now())
            self._operations.create(record)
            return record.operation
        self._operations.create(record)
        self._queue.send(
            BulkPageMessage(tenant=principal.tenant, operation_id=operation.operation_id, page=0)
        )
        return operation

    def get(self, principal: Principal, operation_id: str) -> BulkOperation:
        """The caller's tenant's operation; a caller limited to tags sees only those started in its scope."""
        record = (
            self._operations.get(principal.tenant, operation_id)
            if _OPERATION_ID.match(operation_id)
            else None
        )
        if record is None or (principal.tags and _scope_of(record) != principal.tags):
            raise NotFound(f"bulk operation {operation_id} not found")
        return record.operation

    def process(self, message: BulkPageMessage, *, redelivered: bool = False) -> PageOutcome:
        """Do one page of a running operation, exactly once in its counters however often it is delivered."""
        record = self._operations.get(message.tenant, message.operation_id)
        if record is None or record.operation.status is not BulkStatus.RUNNING:
            return PageOutcome.GONE
        if message.page != record.pages_done:
            if redelivered and message.page == record.pages_done - 1:
                self._queue.send(message.following())
                return PageOutcome.RESENT
            return PageOutcome.DUPLICATE
        principal = principal_from_context(record.caller)
        request = record.operation.request
        jobs, cursor = self._jobs.tenant_jobs_page(record.tenant, record.cursor, self._page_size)
        tally = self._apply(principal, request, [job for job in jobs if _selected(request, principal, job)])
        done = cursor is None
        updated = record.after(tally, cursor=cursor, done=done, at=self._now())
        if not self._operations.save(updated, pages_done_before=record.pages_done):
            return PageOutcome.DUPLICATE
        if done:
            return PageOutcome.FINISHED
        self._queue.send(message.following())
        return PageOutcome.RECORDED

    def give_up(self, message: BulkPageMessage, error: str) -> bool:
        """End a running operation as failed (a page failed on every delivery); False if not running."""
        record = self._operations.get(message.tenant, message.operation_id)
        if record is None or record.operation.status is not BulkStatus.RUNNING:
            return False
        return self._operations.save(
            record.failed_with(error, self._now()), pages_done_before=record.pages_done
        )

    def _apply(self, principal: Principal, request: BulkRequest, jobs: Iterable[Job]) -> Tally:
        tally = Tally()
        enabled = request.action is BulkAction.RESUME
        for job in jobs:
            tally.matched += 1
            if job.status is JobStatus.COMPLETED:
                tally.skipped += 1  # its one run is done: neither paused nor resumed, and no error
                continue
            try:
                _, changed = self._control.change_enabled(
                    principal, job.job_id, enabled=enabled, note=request.note
                )
            except NotFound:
                tally.skipped += 1  # deleted since it was listed
            except DomainError as exc:  # completed meanwhile, a resume that would never fire, busy
                tally.failures.append(BulkFailure(job_id=job.job_id, reason=exc.message))
            else:
                if changed:
                    tally.changed += 1
                else:
                    tally.unchanged += 1
        return tally


def _selected(request: BulkRequest, principal: Principal, job: Job) -> bool:
    return request.matches(job) and principal.sees(job.tags)


def _scope_of(record: BulkOperationRecord) -> TagScope:
    return principal_from_context(record.caller).tags
