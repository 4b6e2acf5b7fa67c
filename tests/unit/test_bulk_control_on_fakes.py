"""Bulk pause/resume on the in-memory jobs table: matching, tag scope, idempotence, pages, redelivery."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched import config
from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import Forbidden, InvalidInput, NotFound
from jobsched.jobs.models import Job, JobStatus
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.bulk_messages import handle_bulk_batch, handle_bulk_record
from jobsched.scheduling.bulk import (
    BulkControl,
    BulkPageMessage,
    BulkRequest,
    BulkStatus,
    PageOutcome,
)
from jobsched.scheduling.control import ScheduleControl
from tests.support.fakes import InMemoryBulkOperations, InMemoryJobs, RecordingBulkQueue, stored_job

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OPERATOR = Principal(tenant="acme", role=Role.OPERATOR, tier=Tier.BASIC, key_id="key_op")
VIEWER = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.BASIC, key_id="key_view")
BILLING_ONLY = Principal(
    tenant="acme", role=Role.OPERATOR, tier=Tier.BASIC, key_id="key_billing", tags=(("team", "billing"),)
)
OTHER = Principal(tenant="globex", role=Role.ADMIN, tier=Tier.BASIC, key_id="key_other")


def job(job_id: str, name: str, tags: dict[str, str] | None = None, **fields: Any) -> Job:
    return stored_job(job_id, NOW, name=name, tags=tags or {}, **fields)


class Setup:
    def __init__(self, inline_limit: int = 100, page_size: int = 100) -> None:
        self.table = InMemoryJobs()
        self.operations = InMemoryBulkOperations()
        self.queue = RecordingBulkQueue()
        ids = itertools.count(1)
        self.bulk = BulkControl(
            ScheduleControl(self.table, "us-east-1", clock=lambda: NOW),
            self.table,
            self.operations,
            self.queue,
            inline_limit=inline_limit,
            page_size=page_size,
            clock=lambda: NOW,
            new_id=lambda: f"bulk_{next(ids):026d}",
        )

    def add(self, tenant: str, stored: Job) -> None:
        self.table.jobs[JobKey(tenant, stored.job_id)] = stored

    def enabled(self, tenant: str, job_id: str) -> bool:
        return self.table.jobs[JobKey(tenant, job_id)].enabled

    def drain(self) -> list[PageOutcome]:
        """Deliver every queued page message once, as the worker does, until none is left."""
        outcomes = []
        while self.queue.sent:
            for message in self.queue.take():
                outcomes.append(self.bulk.process(message))
        return outcomes


@pytest.fixture
def setup() -> Setup:
    setup = Setup()
    setup.add("acme", job("job_01", "nightly-invoices", {"team": "billing"}))
    setup.add("acme", job("job_02", "nightly-ledger", {"team": "billing", "tier": "gold"}))
    setup.add("acme", job("job_03", "nightly-search", {"team": "search"}))
    setup.add("acme", job("job_04", "hourly-billing-sync", {"team": "billing"}))
    setup.add(
        "acme",
        job(
            "job_05",
            "nightly-once",
            {"team": "billing"},
            status="completed",
            schedule={"expression": "at(2026-11-30T10:00:00)"},
        ),
    )
    setup.add("globex", job("job_91", "nightly-invoices", {"team": "billing"}))
    return setup


def pause(**fields: Any) -> BulkRequest:
    return BulkRequest.model_validate({"action": "pause"} | fields)


def resume(**fields: Any) -> BulkRequest:
    return BulkRequest.model_validate({"action": "resume"} | fields)


def counts(operation: Any) -> dict[str, int]:
    return {k: getattr(operation, k) for k in ("matched", "changed", "unchanged", "skipped", "failed")}


def test_a_tag_selects_the_tenants_jobs_carrying_it_and_completed_ones_are_skipped(setup: Setup) -> None:
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing", note="migration"))

    assert operation.status is BulkStatus.COMPLETED
    assert counts(operation) == {"matched": 4, "changed": 3, "unchanged": 0, "skipped": 1, "failed": 0}
    assert [setup.enabled("acme", j) for j in ("job_01", "job_02", "job_03", "job_04")] == [
        False,
        False,
        True,
        False,
    ]
    assert setup.table.jobs[JobKey("acme", "job_01")].pause_note == "migration"
    assert setup.table.jobs[JobKey("acme", "job_05")].status is JobStatus.COMPLETED
    assert setup.enabled("globex", "job_91") is True  # another tenant's job with the same tag
    assert setup.queue.sent == []


def test_a_name_prefix_selects_by_name(setup: Setup) -> None:
    operation = setup.bulk.start(OPERATOR, pause(name_prefix="nightly-"))

    assert counts(operation) == {"matched": 4, "changed": 3, "unchanged": 0, "skipped": 1, "failed": 0}
    assert setup.enabled("acme", "job_04") is True


def test_tag_and_prefix_together_must_both_match(setup: Setup) -> None:
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing", name_prefix="nightly-l"))

    assert counts(operation) == {"matched": 1, "changed": 1, "unchanged": 0, "skipped": 0, "failed": 0}
    assert [setup.enabled("acme", j) for j in ("job_01", "job_02")] == [True, False]


def test_repeating_changes_nothing_and_resume_brings_every_job_back(setup: Setup) -> None:
    setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    again = setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    assert counts(again) == {"matched": 4, "changed": 0, "unchanged": 3, "skipped": 1, "failed": 0}
    versions = {key: j.version for key, j in setup.table.jobs.items()}

    resumed = setup.bulk.start(OPERATOR, resume(tag="team:billing"))

    assert counts(resumed) == {"matched": 4, "changed": 3, "unchanged": 0, "skipped": 1, "failed": 0}
    assert all(setup.enabled("acme", j) for j in ("job_01", "job_02", "job_04"))
    assert setup.table.jobs[JobKey("acme", "job_01")].version == versions[JobKey("acme", "job_01")] + 1


def test_a_tag_scoped_caller_acts_only_on_the_jobs_it_may_see(setup: Setup) -> None:
    operation = setup.bulk.start(BILLING_ONLY, pause(name_prefix="nightly-"))

    assert counts(operation) == {"matched": 3, "changed": 2, "unchanged": 0, "skipped": 1, "failed": 0}
    assert setup.enabled("acme", "job_03") is True  # team:search: outside its scope


def test_a_job_that_cannot_resume_is_a_failure_with_its_reason(setup: Setup) -> None:
    setup.add(
        "acme",
        job(
            "job_06",
            "nightly-ended",
            {"team": "billing"},
            enabled=False,
            status="paused",
            schedule={"expression": "rate(1 hour)", "end_at": "2026-11-30T00:00:00Z"},
        ),
    )

    operation = setup.bulk.start(OPERATOR, resume(tag="team:billing"))

    assert operation.failed == 1
    assert operation.failures[0].job_id == "job_06"
    assert "never fire" in operation.failures[0].reason
    assert operation.status is BulkStatus.COMPLETED


def test_viewers_may_not_bulk_change(setup: Setup) -> None:
    with pytest.raises(Forbidden):
        setup.bulk.start(VIEWER, pause(tag="team:billing"))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"action": "pause"}, {"tag", "name_prefix"}),
        ({"action": "pause", "tag": "billing"}, {"tag"}),
        ({"action": "pause", "tag": ":billing"}, {"tag"}),
        ({"action": "resume", "tag": "team:billing", "note": "why"}, {"note"}),
    ],
)
def test_a_bad_request_names_its_field(setup: Setup, fields: dict[str, Any], named: set[str]) -> None:
    with pytest.raises(InvalidInput) as raised:
        setup.bulk.start(OPERATOR, BulkRequest.model_validate(fields))
    assert {detail["field"] for detail in raised.value.details} == named
    assert setup.operations.records == {}


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "stop", "tag": "a:b"},
        {"tag": "a:b"},
        {"action": "pause", "name_prefix": ""},
        {"action": "pause", "tag": "a:b", "extra": 1},
    ],
)
def test_the_schema_refuses_bad_bodies(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BulkRequest.model_validate(fields)


def test_an_operation_is_read_back_by_its_tenant_only(setup: Setup) -> None:
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing"))

    assert setup.bulk.get(OPERATOR, operation.operation_id) == operation
    assert setup.bulk.get(VIEWER, operation.operation_id) == operation
    for principal, operation_id in (
        (OTHER, operation.operation_id),
        (BILLING_ONLY, operation.operation_id),  # started by an unscoped caller
        (OPERATOR, "bulk_" + "9" * 26),
        (OPERATOR, "not-an-id"),
    ):
        with pytest.raises(NotFound):
            setup.bulk.get(principal, operation_id)


def large() -> Setup:
    setup = Setup(inline_limit=3, page_size=4)
    for number in range(10):
        setup.add("acme", job(f"job_{number:02d}", f"batch-{number}", {"team": "billing"}))
    setup.add("acme", job("job_50", "other", {"team": "search"}))
    return setup


def test_beyond_the_inline_limit_the_pages_run_in_the_background() -> None:
    setup = large()

    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing"))

    assert operation.status is BulkStatus.RUNNING
    assert counts(operation) == {"matched": 0, "changed": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    assert all(setup.enabled("acme", f"job_{n:02d}") for n in range(10))  # nothing done in the request
    assert setup.queue.sent == [BulkPageMessage(tenant="acme", operation_id=operation.operation_id, page=0)]

    outcomes = setup.drain()

    assert outcomes == [PageOutcome.RECORDED, PageOutcome.RECORDED, PageOutcome.FINISHED]
    done = setup.bulk.get(OPERATOR, operation.operation_id)
    assert done.status is BulkStatus.COMPLETED
    assert counts(done) == {"matched": 10, "changed": 10, "unchanged": 0, "skipped": 0, "failed": 0}
    assert not any(setup.enabled("acme", f"job_{n:02d}") for n in range(10))
    assert setup.enabled("acme", "job_50") is True


def test_a_redelivered_page_is_not_counted_twice() -> None:
    setup = large()
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    (first,) = setup.queue.take()
    assert setup.bulk.process(first) is PageOutcome.RECORDED
    (second,) = setup.queue.take()

    # The first page's message comes again (SQS delivers at least once): nothing more is counted or sent.
    assert setup.bulk.process(first) is PageOutcome.DUPLICATE
    assert setup.queue.sent == []
    assert setup.bulk.process(second) is PageOutcome.RECORDED
    assert setup.bulk.process(second) is PageOutcome.DUPLICATE
    setup.drain()

    done = setup.bulk.get(OPERATOR, operation.operation_id)
    assert counts(done) == {"matched": 10, "changed": 10, "unchanged": 0, "skipped": 0, "failed": 0}
    assert setup.bulk.process(first) is PageOutcome.GONE  # completed: a late copy does nothing


def test_a_recorded_page_whose_next_message_was_lost_sends_it_again_on_redelivery() -> None:
    setup = large()
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    (first,) = setup.queue.take()
    setup.bulk.process(first)
    setup.queue.take()  # the send "failed": the next page's message never reached the queue

    assert setup.bulk.process(first, redelivered=True) is PageOutcome.RESENT
    assert setup.queue.sent == [first.following()]
    setup.drain()

    done = setup.bulk.get(OPERATOR, operation.operation_id)
    assert (done.status, done.matched, done.changed) == (BulkStatus.COMPLETED, 10, 10)


def test_a_page_that_keeps_failing_ends_the_operation_as_failed() -> None:
    setup = large()
    operation = setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    (first,) = setup.queue.take()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("table unavailable")

    setup.table.tenant_jobs_page = broken  # type: ignore[method-assign]
    body = first.model_dump_json()
    with pytest.raises(RuntimeError):
        handle_bulk_record(setup.bulk, body, receive_count=1)
    assert setup.bulk.get(OPERATOR, operation.operation_id).status is BulkStatus.RUNNING

    assert handle_bulk_record(setup.bulk, body, receive_count=config.BULK_MAX_RECEIVES) is PageOutcome.GONE

    failed = setup.bulk.get(OPERATOR, operation.operation_id)
    assert failed.status is BulkStatus.FAILED
    assert failed.error is not None and "table unavailable" in failed.error
    assert setup.bulk.give_up(first, "again") is False


def test_a_batch_reports_only_the_records_that_raised_as_item_failures() -> None:
    setup = large()
    setup.bulk.start(OPERATOR, pause(tag="team:billing"))
    (first,) = setup.queue.take()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("table unavailable")

    setup.table.tenant_jobs_page = broken  # type: ignore[method-assign]

    def record(message_id: str, body: str) -> dict[str, Any]:
        return {"messageId": message_id, "body": body, "attributes": {"ApproximateReceiveCount": "1"}}

    event = {"Records": [record("page", first.model_dump_json()), record("junk", "not json")]}
    assert handle_bulk_batch(setup.bulk, event) == {"batchItemFailures": [{"itemIdentifier": "page"}]}
    assert handle_bulk_batch(setup.bulk, {"Records": []}) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"tenant": "acme", "operation_id": "x", "page": 0}),
        json.dumps({"tenant": "acme", "operation_id": "bulk_" + "1" * 26, "page": -1}),
    ],
)
def test_a_message_that_is_no_page_is_dropped(body: str) -> None:
    setup = large()
    assert handle_bulk_record(setup.bulk, body, receive_count=1) is None
    assert setup.queue.sent == []


def test_an_empty_tenant_completes_at_once() -> None:
    setup = Setup()
    operation = setup.bulk.start(OPERATOR, pause(name_prefix="x"))
    assert (operation.status, operation.matched) == (BulkStatus.COMPLETED, 0)
