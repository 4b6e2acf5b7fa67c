"""Restart recovery with the real executor on moto: what a kill -9 left running or queued runs once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import boto3
import pytest

from jobsched import config
from jobsched.execution.executor import Result
from jobsched.execution.fire import FireMessage, Trigger
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.service import JobService
from jobsched.settings import Settings
from jobsched_local.execution_recovery import recover_at_start
from jobsched_local.queue_journal import SEND_MESSAGE_TARGET, QueueJournal, execution_has_record
from jobsched_local.scheduling_runtime import fire_token
from tests.integration.test_executor import (
    BAD,
    OK,
    START,
    Clock,
    Crash,
    RecordingQueue,
    ScriptedTarget,
    executor,
    fire,
    history,
    make_job,
)

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jobs() -> JobService:
    return JobService(
        DynamoJobStore(boto3.client("dynamodb"), config.JOBS_TABLE),
        Settings(region="us-east-1"),
        clock=lambda: START - timedelta(days=1),
        resolver=lambda host, port: ["93.184.215.14"],
    )


def with_token(sent: list[FireMessage]) -> Callable[[FireMessage], None]:
    dynamodb = boto3.client("dynamodb")

    def send(message: FireMessage) -> None:
        token = fire_token(dynamodb, message.job)
        sent.append(message.model_copy(update={"fire_token": token}))

    return send


def test_an_execution_running_at_the_kill_is_finished_after_the_restart_not_after_its_lease(
    clock: Clock, jobs: JobService
) -> None:
    job = make_job(jobs)
    target = ScriptedTarget(Crash, OK)
    with pytest.raises(Crash):
        executor(clock, target, RecordingQueue(), []).process(fire(job))
    assert history(job["job_id"])[0]["status"] == "running"

    clock.now += timedelta(seconds=30)  # restarted well within the 900 s lease
    sent: list[FireMessage] = []
    assert recover_at_start(boto3.client("dynamodb"), with_token(sent), clock.now) == 1
    [message] = sent
    restarted = executor(clock, target, RecordingQueue(), [])
    assert restarted.process(message) is Result.SUCCEEDED
    assert restarted.process(message) is Result.DUPLICATE  # the same message delivered twice runs once

    [record] = history(job["job_id"])
    assert (record["status"], record["attempts"]) == ("succeeded", 1)
    assert {call.execution_id for call in target.calls} == {fire(job).effective_execution_id}
    assert recover_at_start(boto3.client("dynamodb"), with_token(sent), clock.now) == 0


def test_an_awaited_retry_gets_its_next_attempt_after_the_restart(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    target = ScriptedTarget(BAD, OK)
    first = executor(clock, target, RecordingQueue(), [])
    assert first.process(fire(job)) is Result.RETRY_SCHEDULED  # its message was on the lost queue

    sent: list[FireMessage] = []
    clock.now += timedelta(seconds=30)
    assert recover_at_start(boto3.client("dynamodb"), with_token(sent), clock.now) == 1
    assert sent[0].attempt == 2
    assert executor(clock, target, RecordingQueue(), []).process(sent[0]) is Result.SUCCEEDED
    [record] = history(job["job_id"])
    assert (record["status"], record["attempts"]) == ("succeeded", 2)


def test_a_run_now_queued_before_the_kill_runs_exactly_once_after_the_restart(
    tmp_path: Path, clock: Clock, jobs: JobService
) -> None:
    job = make_job(jobs)
    run_now = fire(job, trigger=Trigger.MANUAL, execution_id="man_20261201T100000000000Z_abc")
    request = {
        "QueueUrl": f"http://127.0.0.1:4566/123456789012/{config.EXECUTION_QUEUE}",
        "MessageBody": run_now.model_dump_json(),
    }
    journal = QueueJournal(tmp_path / "journal")
    journal.record(SEND_MESSAGE_TARGET, json.dumps(request).encode())  # answered 202, then kill -9
    journal.close()

    restarted = QueueJournal(tmp_path / "journal")
    has_record = execution_has_record(boto3.client("dynamodb"))
    resent: list[str] = []
    assert restarted.replay(has_record, resent.append) == 1
    target = ScriptedTarget(OK)
    run = executor(clock, target, RecordingQueue(), [])
    assert run.process(FireMessage.model_validate_json(resent[0])) is Result.SUCCEEDED

    # A second restart finds its record: nothing is sent again, and the journal is empty.
    assert QueueJournal(tmp_path / "journal").replay(has_record, resent.append) == 0
    assert len(target.calls) == 1
    assert [(r["execution_id"], r["status"]) for r in history(job["job_id"])] == [
        ("man_20261201T100000000000Z_abc", "succeeded")
    ]
