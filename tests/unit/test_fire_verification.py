"""Only fires the service made run: the executor's fire-token check on in-memory fakes (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage, Trigger, new_fire_token
from jobsched.execution.models import ExecutionStatus, Outcome, SkipReason
from jobsched.jobs.models import Job
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.scheduler import scheduler_input_template
from tests.support.fakes import InMemoryExecutions, InMemoryJobs, RecordingQueue, ScriptedTarget

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
TOKEN_A = new_fire_token()


def job(job_id: str = "job_a", token: str | None = TOKEN_A, version: int = 2) -> Job:
    return Job.model_validate(
        {
            "job_id": job_id,
            "name": "report",
            "region": "us-east-1",
            "version": version,
            "created_at": NOW,
            "updated_at": NOW,
            "created_by": "k",
            "updated_by": "k",
            "status": "active",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": {"url": "https://hooks.example.com/a"},
            "fire_token": token,
        }
    )


World = tuple[Executor, InMemoryExecutions, RecordingQueue, ScriptedTarget, list[Rejection]]


def jobs_of(*jobs: tuple[str, Job]) -> InMemoryJobs:
    table = InMemoryJobs()
    for tenant, stored in jobs:
        table.jobs[JobKey(tenant, stored.job_id)] = stored
    return table


@pytest.fixture
def world() -> World:
    store, queue, target = InMemoryExecutions(), RecordingQueue(), ScriptedTarget()
    rejected: list[Rejection] = []
    executor = Executor(
        store=store,
        jobs=jobs_of(("tenant-a", job()), ("tenant-a", job("job_old", token=None))),
        queue=queue,
        invoker=target,
        lease=timedelta(minutes=15),
        on_rejected=rejected.append,
        clock=lambda: NOW,
    )
    return executor, store, queue, target, rejected


def fire(**overrides: Any) -> FireMessage:
    base = {
        "tenant": "tenant-a",
        "job_id": "job_a",
        "job_version": 2,
        "scheduled_time": NOW,
        "fire_token": TOKEN_A,
    }
    return FireMessage.model_validate(base | overrides)


def test_a_fire_with_the_jobs_token_runs(world: Any) -> None:
    executor, _, _, target, rejected = world

    assert executor.process(fire()) is Result.SUCCEEDED
    assert [job_id for job_id, _, _ in target.calls] == ["job_a"]
    assert rejected == []


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"fire_token": None}, RejectReason.NO_TOKEN),
        ({"fire_token": new_fire_token()}, RejectReason.TOKEN_MISMATCH),
        ({"fire_token": TOKEN_A[:-1]}, RejectReason.TOKEN_MISMATCH),
        ({"job_id": "job_nope"}, RejectReason.UNKNOWN_JOB),
        ({"tenant": "tenant-b"}, RejectReason.UNKNOWN_JOB),
        ({"job_version": 3}, RejectReason.FUTURE_VERSION),
        ({"job_id": "job_old", "fire_token": "anything"}, RejectReason.NO_TOKEN),
    ],
)
def test_a_forged_fire_calls_nothing_claims_nothing_and_is_reported(
    world: Any, overrides: dict[str, Any], reason: RejectReason
) -> None:
    executor, store, queue, target, rejected = world
    # A forged message may name a run-now execution id of the victim to pre-claim it: it must not.
    forged = fire(trigger=Trigger.MANUAL, execution_id="exe_20261201T100000Z_victim", **overrides)

    assert executor.process(forged) is Result.REJECTED
    assert (target.calls, store.records, queue.sent) == ([], {}, [])
    [rejection] = rejected
    assert rejection.reason is reason
    assert (rejection.tenant, rejection.job_id, rejection.trigger) == (forged.tenant, forged.job_id, "manual")


def test_a_forged_deferred_fire_is_not_requeued(world: Any) -> None:
    executor, _, queue, _, rejected = world
    forged = fire(fire_token=new_fire_token(), not_before=NOW + timedelta(days=30))

    assert executor.process(forged) is Result.REJECTED
    assert queue.sent == []
    assert [r.reason for r in rejected] == [RejectReason.TOKEN_MISMATCH]


def test_an_older_version_still_runs_into_the_skip_not_a_rejection(world: Any) -> None:
    executor, store, _, target, rejected = world

    assert executor.process(fire(job_version=1)) is Result.SKIPPED
    assert target.calls == [] and rejected == []
    [(key, execution_id)] = store.records
    assert (key, execution_id) == (JobKey("tenant-a", "job_a"), fire().effective_execution_id)
    assert store.records[(key, execution_id)].execution.status is ExecutionStatus.SKIPPED
    assert SkipReason.JOB_CHANGED.value == "job_version_changed"


def test_the_executors_own_retry_carries_the_token() -> None:
    failing = ScriptedTarget([Outcome(succeeded=False, duration_ms=1, status_code=503, error="HTTP 503")])
    queue = RecordingQueue()
    executor = Executor(
        store=InMemoryExecutions(),
        jobs=jobs_of(("tenant-a", job())),
        queue=queue,
        invoker=failing,
        lease=timedelta(minutes=15),
        clock=lambda: NOW,
    )
    assert executor.process(fire()) is Result.RETRY_SCHEDULED
    [retry] = queue.messages
    assert retry.fire_token == TOKEN_A and retry.attempt == 2


def test_the_token_never_shows_in_a_repr_or_a_job_document() -> None:
    message = fire()
    assert TOKEN_A not in repr(message) and TOKEN_A not in str(message)
    stored = job()
    assert TOKEN_A not in repr(stored)
    assert "fire_token" not in stored.model_dump() and TOKEN_A not in stored.model_dump_json()


def test_the_schedule_template_carries_the_token_and_parses_back() -> None:
    template = scheduler_input_template(JobKey("tenant-a", "job_a"), 2, TOKEN_A)
    filled = (
        template.replace("<aws.scheduler.scheduled-time>", "2026-12-01T10:00:00Z")
        .replace("<aws.scheduler.execution-id>", "x")
        .replace("<aws.scheduler.attempt-number>", "1")
    )
    assert FireMessage.model_validate_json(filled).fire_token == TOKEN_A


def test_fire_tokens_are_32_random_urlsafe_bytes() -> None:
    tokens = {new_fire_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) == 43 and token.replace("-", "").replace("_", "").isalnum() for token in tokens)
