"""ExecutionService on in-memory fakes: history, run-now and retry of a tenant's jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import Conflict, Forbidden, NotFound
from jobsched.execution.fire import FireMessage, Trigger, new_fire_token
from jobsched.execution.models import ExecutionStatus, Outcome
from jobsched.execution.ports import Claim
from jobsched.execution.service import ExecutionService
from jobsched.jobs.models import Job
from jobsched.keyscheme import JobKey
from tests.support.fakes import InMemoryExecutions, InMemoryJobs, RecordingQueue

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OPERATOR = Principal(tenant="acme", role=Role.OPERATOR, tier=Tier.BASIC, key_id="key_op")
VIEWER = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.BASIC, key_id="key_view")
OTHER = Principal(tenant="globex", role=Role.ADMIN, tier=Tier.BASIC, key_id="key_other")
KEY = JobKey("acme", "job_a")
TOKEN = new_fire_token()


def job(**fields: Any) -> Job:
    base: dict[str, Any] = {
        "job_id": KEY.job_id,
        "name": "report",
        "region": "us-east-1",
        "version": 4,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by": "k",
        "updated_by": "k",
        "status": "active",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"url": "https://hooks.example.com/a"},
        "fire_token": TOKEN,
    }
    return Job.model_validate(base | fields)


class World:
    def __init__(self, **job_fields: Any) -> None:
        self.jobs = InMemoryJobs()
        self.jobs.jobs[KEY] = job(**job_fields)
        self.history = InMemoryExecutions()
        self.queue = RecordingQueue()
        self.service = ExecutionService(self.jobs, self.history, self.queue, clock=lambda: NOW)

    def executed(self, execution_id: str, status: ExecutionStatus, minutes_ago: int) -> None:
        at = NOW - timedelta(minutes=minutes_ago)
        message = FireMessage(tenant="acme", job_id="job_a", job_version=4, scheduled_time=at)
        self.history.claim(Claim(KEY, message, execution_id, 1, 1, at, at + timedelta(minutes=1)))
        outcome = Outcome(succeeded=status is ExecutionStatus.SUCCEEDED, duration_ms=2)
        self.history.finish(
            KEY, execution_id, 1, status=status, finished_at=at, outcome=outcome, skip_reason=None
        )


@pytest.fixture
def world() -> World:
    return World()


def test_history_lists_newest_first_in_pages_and_reads_one(world: World) -> None:
    world.executed("exe_20261201T100000Z_a", ExecutionStatus.SUCCEEDED, 120)
    world.executed("exe_20261201T110000Z_b", ExecutionStatus.FAILED, 60)
    world.executed("exe_20261201T115000Z_c", ExecutionStatus.SUCCEEDED, 10)

    first = world.service.list(VIEWER, "job_a", limit=2, next_token=None, status=None)
    rest = world.service.list(VIEWER, "job_a", limit=2, next_token=first.next_token, status=None)
    failed = world.service.list(VIEWER, "job_a", limit=10, next_token=None, status=ExecutionStatus.FAILED)

    assert [e.execution_id for e in first.items] == ["exe_20261201T115000Z_c", "exe_20261201T110000Z_b"]
    assert [e.execution_id for e in rest.items] == ["exe_20261201T100000Z_a"] and rest.next_token is None
    assert [e.execution_id for e in failed.items] == ["exe_20261201T110000Z_b"]
    assert world.service.get(VIEWER, "job_a", "exe_20261201T100000Z_a").status is ExecutionStatus.SUCCEEDED


def test_history_of_another_tenants_job_or_an_unknown_execution_is_not_found(world: World) -> None:
    world.executed("exe_20261201T100000Z_a", ExecutionStatus.SUCCEEDED, 120)

    with pytest.raises(NotFound):
        world.service.list(OTHER, "job_a", limit=10, next_token=None, status=None)
    with pytest.raises(NotFound):
        world.service.get(OTHER, "job_a", "exe_20261201T100000Z_a")
    with pytest.raises(NotFound):
        world.service.get(VIEWER, "job_a", "exe_20261201T100000Z_zz")


def test_run_now_queues_a_manual_fire_of_the_job_as_it_is(world: World) -> None:
    queued = world.service.run_now(OPERATOR, "job_a")

    [(message, delay)] = world.queue.sent
    assert delay == 0
    assert (message.job, message.job_version, message.trigger, message.fire_token) == (
        KEY,
        4,
        Trigger.MANUAL,
        TOKEN,
    )
    assert (message.scheduled_time, message.execution_id) == (NOW, queued.execution_id)
    assert (queued.job_id, queued.trigger, queued.retry_of) == ("job_a", Trigger.MANUAL, None)


def test_a_viewer_may_not_run_or_retry(world: World) -> None:
    with pytest.raises(Forbidden):
        world.service.run_now(VIEWER, "job_a")
    with pytest.raises(Forbidden):
        world.service.retry(VIEWER, "job_a", None)
    assert world.queue.sent == []


def test_run_now_of_another_tenants_job_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.service.run_now(OTHER, "job_a")
    assert world.queue.sent == []


def test_a_job_without_a_fire_token_cannot_be_run_now() -> None:
    world = World(fire_token=None)
    with pytest.raises(Conflict):
        world.service.run_now(OPERATOR, "job_a")
    assert world.queue.sent == []


def test_retry_repeats_the_latest_failed_execution_by_default(world: World) -> None:
    world.executed("exe_20261201T100000Z_a", ExecutionStatus.FAILED, 120)
    world.executed("exe_20261201T110000Z_b", ExecutionStatus.FAILED, 60)
    world.executed("exe_20261201T115000Z_c", ExecutionStatus.SUCCEEDED, 10)

    queued = world.service.retry(OPERATOR, "job_a", None)

    [(message, _)] = world.queue.sent
    assert (queued.trigger, queued.retry_of) == (Trigger.RETRY, "exe_20261201T110000Z_b")
    assert (message.trigger, message.retry_of, message.execution_id) == (
        Trigger.RETRY,
        "exe_20261201T110000Z_b",
        queued.execution_id,
    )


def test_retry_of_a_named_execution_needs_it_to_have_failed(world: World) -> None:
    world.executed("exe_20261201T100000Z_a", ExecutionStatus.FAILED, 120)
    world.executed("exe_20261201T115000Z_c", ExecutionStatus.SUCCEEDED, 10)

    assert (
        world.service.retry(OPERATOR, "job_a", "exe_20261201T100000Z_a").retry_of == "exe_20261201T100000Z_a"
    )
    with pytest.raises(Conflict):
        world.service.retry(OPERATOR, "job_a", "exe_20261201T115000Z_c")
    with pytest.raises(NotFound):
        world.service.retry(OPERATOR, "job_a", "exe_20261201T000000Z_none")


def test_retry_without_a_failed_execution_is_a_conflict(world: World) -> None:
    world.executed("exe_20261201T115000Z_c", ExecutionStatus.SUCCEEDED, 10)
    with pytest.raises(Conflict):
        world.service.retry(OPERATOR, "job_a", None)
