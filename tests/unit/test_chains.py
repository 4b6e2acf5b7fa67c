"""Chains: on_success validation (exists, same tenant, no cycles) and the executor's chained runs (fakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import InvalidInput
from jobsched.execution.executor import Executor, Result
from jobsched.execution.fire import FireMessage, Trigger, new_fire_token
from jobsched.jobs.models import Job, JobSpec
from jobsched.jobs.service import JobService
from jobsched.keyscheme import JobKey
from jobsched.settings import Settings
from tests.support.fakes import InMemoryJobs, stored_job
from tests.unit.test_catch_up import FakeQueue, FakeStore, FakeTarget

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
A, B, C = (f"job_{letter * 26}" for letter in "abc")
OPERATOR = Principal("acme", Role.OPERATOR, Tier.BASIC, "k")


def job(job_id: str, on_success: list[str], **extra: Any) -> Job:
    fields: dict[str, Any] = {
        "name": job_id,
        "version": 2,
        "updated_at": NOW - timedelta(days=1),
        "schedule": {"expression": "rate(1 day)"},
        "fire_token": new_fire_token(),
        "on_success": on_success,
    }
    return stored_job(job_id, NOW, **(fields | extra))


def jobs(*found: Job) -> InMemoryJobs:
    """The jobs table holding acme's ``found`` jobs: the job store and the executor's job reader."""
    store = InMemoryJobs()
    for each in found:
        store.jobs[JobKey("acme", each.job_id)] = each
    return store


def acme(job_id: str) -> JobKey:
    return JobKey("acme", job_id)


def spec(on_success: list[str]) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": "n",
            "schedule": {"expression": "rate(1 day)"},
            "target": {"url": "https://hooks.example.com/a"},
            "on_success": on_success,
        }
    )


@pytest.mark.parametrize(
    ("chain", "why"),
    [
        ([A, A], "unique"),
        (["job_x"], "pattern"),
        ([f"job_{i:026d}" for i in range(11)], "at most 10"),
    ],
)
def test_an_invalid_chain_is_refused_naming_the_field(chain: list[str], why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(chain)
    assert caught.value.errors()[0]["loc"][0] == "on_success"
    assert why in str(caught.value)


def service(store: InMemoryJobs) -> JobService:
    return JobService(
        store, Settings(region="us-east-1"), clock=lambda: NOW, resolver=lambda h, p: ["93.184.215.14"]
    )


def test_a_chain_must_name_existing_jobs_and_not_itself() -> None:
    store = jobs(job(A, []), job(B, []))
    with pytest.raises(InvalidInput) as caught:
        service(store).replace(OPERATOR, A, spec([B, C]), None)
    assert caught.value.details[0]["field"] == "on_success.1"
    with pytest.raises(InvalidInput) as caught:
        service(store).replace(OPERATOR, A, spec([A]), None)
    assert caught.value.details[0]["field"] == "on_success.0"
    service(store).replace(OPERATOR, A, spec([B]), None)  # fine


def test_a_chain_that_leads_back_is_a_cycle() -> None:
    store = jobs(job(A, []), job(B, [C]), job(C, [A]))
    with pytest.raises(InvalidInput) as caught:
        service(store).replace(OPERATOR, A, spec([B]), None)
    assert caught.value.details[0]["field"] == "on_success"
    assert "cycle" in caught.value.details[0]["message"]


def run(store: InMemoryJobs, job_id: str, **extra: Any) -> tuple[Result, FakeQueue]:
    queue = FakeQueue()
    executor = Executor(
        store=FakeStore(),
        jobs=store,
        queue=queue,
        invoker=FakeTarget(),
        lease=timedelta(minutes=15),
        clock=lambda: NOW,
    )
    parent = store.get(acme(job_id))
    fields: dict[str, Any] = {"trigger": Trigger.MANUAL, **extra}
    message = FireMessage(
        tenant="acme",
        job_id=job_id,
        job_version=2,
        scheduled_time=NOW,
        execution_id="exe_parent",
        fire_token=parent.fire_token,
        **fields,
    )
    return executor.process(message), queue


def test_a_success_queues_each_chained_job_once_with_its_parent() -> None:
    store = jobs(job(A, [B, C]), job(B, []), job(C, []))
    result, queue = run(store, A)
    assert result is Result.SUCCEEDED
    assert [(m.job_id, m.trigger, m.parent_execution_id, m.fire_token) for m in queue.sent] == [
        (B, Trigger.CHAIN, "exe_parent", store.get(acme(B)).fire_token),
        (C, Trigger.CHAIN, "exe_parent", store.get(acme(C)).fire_token),
    ]
    _, again = run(store, A)  # the same parent execution processed again: the same ids
    assert [m.execution_id for m in again.sent] == [m.execution_id for m in queue.sent]
    assert len({m.execution_id for m in queue.sent}) == 2


def test_a_chained_job_that_is_gone_is_passed_over_and_a_paused_one_is_skipped() -> None:
    store = jobs(job(A, [B, C]), job(C, [], enabled=False, status="paused"))
    _, queue = run(store, A)
    assert [m.job_id for m in queue.sent] == [C]
    result, _ = run(store, C, trigger=Trigger.CHAIN)
    assert result is Result.SKIPPED
