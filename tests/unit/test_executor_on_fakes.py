"""The executor on in-memory fakes: claim, duplicate, lease takeover, defer, retry, give up, skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobsched.execution.executor import Executor, Result
from jobsched.execution.fire import FireMessage, Trigger, new_fire_token
from jobsched.execution.models import ExecutionStatus, Outcome, SkipReason
from jobsched.execution.ports import Claim
from jobsched.jobs.models import Job
from jobsched.keyscheme import JobKey
from tests.support.fakes import InMemoryExecutions, InMemoryJobs, RecordingQueue, ScriptedTarget

START = datetime(2026, 12, 1, 10, tzinfo=UTC)
LEASE = timedelta(minutes=15)
TOKEN = new_fire_token()
KEY = JobKey("acme", "job_a")
FAILED = Outcome(succeeded=False, duration_ms=3, status_code=503, error="HTTP 503")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, target: ScriptedTarget | None = None, **job_fields: Any) -> None:
        self.clock = Clock()
        self.jobs = InMemoryJobs()
        self.store = InMemoryExecutions()
        self.queue = RecordingQueue()
        self.target = target or ScriptedTarget()
        self.final_failures: list[JobKey] = []
        self.jobs.jobs[KEY] = job(**job_fields)
        self.jobs.secrets[KEY] = "whsec_x"
        self.executor = Executor(
            store=self.store,
            jobs=self.jobs,
            queue=self.queue,
            invoker=self.target,
            lease=LEASE,
            on_final_failure=self.final_failures.append,
            clock=self.clock,
        )

    def record(self, message: FireMessage) -> Any:
        return self.store.get(KEY, message.effective_execution_id)


def job(**fields: Any) -> Job:
    base: dict[str, Any] = {
        "job_id": KEY.job_id,
        "name": "report",
        "region": "us-east-1",
        "version": 1,
        "created_at": START,
        "updated_at": START,
        "created_by": "k",
        "updated_by": "k",
        "status": "active",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"url": "https://hooks.example.com/a"},
        "retry_policy": {"max_attempts": 2, "backoff_seconds": 30},
        "fire_token": TOKEN,
    }
    return Job.model_validate(base | fields)


def fire(**overrides: Any) -> FireMessage:
    base = {
        "tenant": "acme",
        "job_id": "job_a",
        "job_version": 1,
        "scheduled_time": START,
        "fire_token": TOKEN,
    }
    return FireMessage.model_validate(base | overrides)


def test_a_fire_is_claimed_run_recorded_and_summarised_on_the_job() -> None:
    world = World()

    assert world.executor.process(fire()) is Result.SUCCEEDED

    [(job_id, secret, delivery)] = world.target.calls
    assert (job_id, secret, delivery.tenant, delivery.attempt) == ("job_a", "whsec_x", "acme", 1)
    record = world.record(fire())
    assert (record.status, record.attempts, record.status_code) == (ExecutionStatus.SUCCEEDED, 1, 200)
    last = world.jobs.jobs[KEY].last_execution
    assert last is not None and (last.execution_id, last.status) == (record.execution_id, "succeeded")
    assert world.queue.sent == []


def test_a_duplicate_delivery_runs_nothing() -> None:
    world = World()
    world.executor.process(fire())

    assert world.executor.process(fire(scheduler_execution_id="another-delivery")) is Result.DUPLICATE
    assert len(world.target.calls) == 1


def test_an_attempt_whose_claimer_died_is_taken_over_after_its_lease() -> None:
    world = World()
    message = fire()
    died = Claim(KEY, message, message.effective_execution_id, 1, 2, START, START + LEASE)
    assert world.store.claim(died)

    assert world.executor.process(message) is Result.DUPLICATE  # the lease still holds
    world.clock.now = START + LEASE + timedelta(seconds=1)
    assert world.executor.process(message) is Result.SUCCEEDED
    assert world.record(message).status is ExecutionStatus.SUCCEEDED


def test_a_fire_due_later_is_deferred_without_a_claim() -> None:
    world = World()
    later = fire(not_before=START + timedelta(seconds=90))

    assert world.executor.process(later) is Result.DEFERRED
    assert world.queue.sent == [(later, 90)]
    assert world.store.records == {} and world.target.calls == []


def test_a_failed_attempt_queues_the_next_then_gives_up_after_the_last() -> None:
    world = World(ScriptedTarget([FAILED]))

    assert world.executor.process(fire()) is Result.RETRY_SCHEDULED
    [(retry, delay)] = world.queue.sent
    assert (retry.attempt, retry.execution_id, retry.fire_token, delay) == (
        2,
        fire().effective_execution_id,
        TOKEN,
        30,
    )
    waiting = world.record(fire())
    assert (waiting.status, waiting.next_attempt_at) == (
        ExecutionStatus.RUNNING,
        START + timedelta(seconds=30),
    )

    world.clock.now += timedelta(seconds=30)
    assert world.executor.process(retry) is Result.FAILED
    failed = world.record(fire())
    assert (failed.status, failed.attempts, failed.error) == (ExecutionStatus.FAILED, 2, "HTTP 503")
    assert world.final_failures == [KEY]
    assert [delivery.attempt for _, _, delivery in world.target.calls] == [1, 2]


def test_a_late_record_of_an_earlier_attempt_does_not_overwrite_the_later_one() -> None:
    world = World(ScriptedTarget([FAILED, Outcome(succeeded=True, duration_ms=1, status_code=200)]))
    world.executor.process(fire())
    [(retry, _)] = world.queue.sent
    world.executor.process(retry)

    late = world.store.finish(
        KEY,
        fire().effective_execution_id,
        1,
        status=ExecutionStatus.FAILED,
        finished_at=START,
        outcome=FAILED,
        skip_reason=None,
    )
    assert late is None
    assert world.record(fire()).status is ExecutionStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("job_fields", "message_fields", "reason"),
    [
        ({"enabled": False, "status": "paused"}, {}, SkipReason.JOB_PAUSED),
        ({"version": 2}, {}, SkipReason.JOB_CHANGED),
    ],
)
def test_a_stale_or_paused_schedule_is_recorded_as_skipped(
    job_fields: dict[str, Any], message_fields: dict[str, Any], reason: SkipReason
) -> None:
    world = World(**job_fields)

    assert world.executor.process(fire(**message_fields)) is Result.SKIPPED
    record = world.record(fire())
    assert (record.status, record.skip_reason) == (ExecutionStatus.SKIPPED, reason)
    assert world.target.calls == []


def test_a_run_now_of_a_paused_job_runs() -> None:
    world = World(enabled=False, status="paused")
    manual = fire(trigger=Trigger.MANUAL, execution_id="exe_20261201T100000Z_manual")

    assert world.executor.process(manual) is Result.SUCCEEDED


def test_overlap_forbid_skips_while_an_earlier_run_is_active() -> None:
    world = World(overlap_policy="forbid")
    earlier = fire(scheduled_time=START - timedelta(minutes=5))
    world.store.claim(Claim(KEY, earlier, earlier.effective_execution_id, 1, 2, START, START + LEASE))

    assert world.executor.process(fire()) is Result.SKIPPED
    assert world.record(fire()).skip_reason is SkipReason.OVERLAP
    world.clock.now = START + LEASE + timedelta(seconds=1)
    later = fire(scheduled_time=START + timedelta(minutes=20))
    assert world.executor.process(later) is Result.SUCCEEDED  # the earlier run's lease ran out
