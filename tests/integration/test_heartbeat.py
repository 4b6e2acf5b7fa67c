"""The dead man's switch: the executor records genuine heartbeat fires, rejects forged ones, and
`jobsched regions status` shows each region's last heartbeat; the local schedule clock fires it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched import config, telemetry
from jobsched.errors import DomainError
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.heartbeats import DynamoHeartbeats
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage
from jobsched.execution.heartbeat import (
    HEARTBEAT_JOB_ID,
    HEARTBEAT_SCHEDULE_NAME,
    HEARTBEAT_TENANT,
    Heartbeat,
    HeartbeatReceiver,
    heartbeat_input,
)
from jobsched.health.adapters.checks import DynamoDrillMarkers
from jobsched.keys.models import validate_tenant
from jobsched.keyscheme import JobKey
from jobsched_cli import region_commands
from jobsched_local.schedule_clock import ScheduleClock, ScheduleMarks, fill_input
from jobsched_local.scheduling_provision import (
    ensure_heartbeat_schedule,
    ensure_queues,
    ensure_schedule_group,
)
from jobsched_local.scheduling_runtime import unexecuted
from tests.support.emf import emitted_metrics, named

pytestmark = pytest.mark.usefixtures("aws")
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOKEN = "heartbeat-token-" + "h" * 27
ACCOUNT = "123456789012"


class Targetless:
    def invoke(self, *args: Any) -> Any:
        raise AssertionError("a heartbeat never calls a target")


class Queue:
    def send(self, message: FireMessage, delay_seconds: int) -> None:
        raise AssertionError("a heartbeat is never re-queued")


def make_executor(now: datetime, rejected: list[Rejection], received: list[Heartbeat]) -> Executor:
    dynamodb = boto3.client("dynamodb")

    def on_received(heartbeat: Heartbeat) -> None:
        received.append(heartbeat)
        telemetry.record_heartbeat()

    receiver = HeartbeatReceiver(
        "us-east-1", TOKEN, DynamoHeartbeats(dynamodb, config.JOBS_TABLE), on_received=on_received
    )
    return Executor(
        store=DynamoExecutionStore(dynamodb, config.EXECUTIONS_TABLE),
        jobs=DynamoJobReader(dynamodb, config.JOBS_TABLE),
        queue=Queue(),
        invoker=Targetless(),
        lease=timedelta(seconds=900),
        on_rejected=rejected.append,
        clock=lambda: now,
        heartbeat=receiver,
    )


def heartbeat_fire(scheduled: datetime, token: str | None = TOKEN) -> FireMessage:
    """What the heartbeat schedule puts on the queue: its Input with the scheduler's placeholders filled."""
    body = fill_input(heartbeat_input(token or ""), scheduled_time=scheduled, schedule_arn="arn:x")
    data = json.loads(body)
    if token is None:
        data.pop("fire_token")
    return FireMessage.model_validate(data)


def test_the_reserved_tenant_can_never_be_a_tenants() -> None:
    with pytest.raises(DomainError):
        validate_tenant(HEARTBEAT_TENANT)
    assert f"{HEARTBEAT_TENANT}.{HEARTBEAT_JOB_ID}" == HEARTBEAT_SCHEDULE_NAME


def test_a_genuine_heartbeat_is_recorded_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    rejected: list[Rejection] = []
    received: list[Heartbeat] = []
    arrived = START + timedelta(seconds=2)

    result = make_executor(arrived, rejected, received).process(heartbeat_fire(START))

    assert result is Result.HEARTBEAT
    assert rejected == []
    latest = DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE).latest(["us-east-1", "eu-west-1"])
    assert latest == {"us-east-1": Heartbeat("us-east-1", START, arrived), "eu-west-1": None}
    [count] = named(emitted_metrics(capsys.readouterr().out), telemetry.HEARTBEAT_OK)
    assert (count.dimensions, count.values) == ({"service": config.SERVICE}, [1.0])


@pytest.mark.parametrize(
    ("token", "reason"),
    [("forged-" + "f" * 36, RejectReason.TOKEN_MISMATCH), (None, RejectReason.NO_TOKEN)],
)
def test_a_heartbeat_without_the_token_is_rejected_and_not_recorded(
    token: str | None, reason: RejectReason
) -> None:
    rejected: list[Rejection] = []
    received: list[Heartbeat] = []

    result = make_executor(START, rejected, received).process(heartbeat_fire(START, token))

    assert result is Result.REJECTED
    assert [(r.reason, r.tenant) for r in rejected] == [(reason, HEARTBEAT_TENANT)]
    assert received == []
    store = DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE)
    assert store.latest(["us-east-1"]) == {"us-east-1": None}


def test_an_executor_without_a_heartbeat_token_rejects_every_heartbeat() -> None:
    rejected: list[Rejection] = []
    dynamodb = boto3.client("dynamodb")
    run = Executor(
        store=DynamoExecutionStore(dynamodb, config.EXECUTIONS_TABLE),
        jobs=DynamoJobReader(dynamodb, config.JOBS_TABLE),
        queue=Queue(),
        invoker=Targetless(),
        lease=timedelta(seconds=900),
        on_rejected=rejected.append,
    )
    assert run.process(heartbeat_fire(START)) is Result.REJECTED
    assert [r.reason for r in rejected] == [RejectReason.TOKEN_MISMATCH]


def test_a_late_redelivery_does_not_move_the_latest_heartbeat_back() -> None:
    store = DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE)
    later = START + timedelta(minutes=1)
    store.record(Heartbeat("us-east-1", later, later))
    store.record(Heartbeat("us-east-1", START, later + timedelta(seconds=5)))

    assert store.latest(["us-east-1"])["us-east-1"] == Heartbeat("us-east-1", later, later)


def test_regions_status_shows_each_regions_last_heartbeat_and_calls_a_silent_one_late() -> None:
    dynamodb = boto3.client("dynamodb")
    heartbeats = DynamoHeartbeats(dynamodb, config.JOBS_TABLE)
    heartbeats.record(Heartbeat("us-east-1", START, START + timedelta(seconds=1)))
    heartbeats.record(Heartbeat("eu-west-1", START - timedelta(minutes=10), START - timedelta(minutes=10)))
    out = io.StringIO()

    region_commands.status(
        DynamoDrillMarkers(dynamodb, config.JOBS_TABLE),
        ["us-east-1", "eu-west-1", "ap-south-1"],
        out,
        heartbeats,
        clock=lambda: START + timedelta(seconds=31),
    )

    assert out.getvalue().splitlines()[3:] == [
        "us-east-1: last heartbeat 2026-12-01T10:00:01Z, 30 s ago",
        "eu-west-1: last heartbeat 2026-12-01T09:50:00Z, 631 s ago (LATE: the heartbeat alarm fires)",
        "ap-south-1: no heartbeat recorded",
    ]


def test_the_local_clock_fires_the_heartbeat_schedule_onto_the_execution_queue() -> None:
    scheduler = boto3.client("scheduler")
    sqs = boto3.client("sqs")
    ensure_schedule_group(scheduler)
    ensure_queues(sqs)
    ensure_heartbeat_schedule(scheduler, "us-east-1", ACCOUNT, TOKEN)
    ensure_heartbeat_schedule(scheduler, "us-east-1", ACCOUNT, TOKEN)  # a second start replaces it
    created = scheduler.get_schedule(Name=HEARTBEAT_SCHEDULE_NAME, GroupName=config.SCHEDULE_GROUP)
    start = created["StartDate"].astimezone(UTC)
    clock = ScheduleClock(
        ["us-east-1"],
        lambda service, region: boto3.client(service, region_name=region),
        ScheduleMarks(None),
        now=lambda: start + timedelta(minutes=2, seconds=1),
    )

    sent = clock.tick()

    assert [fire.schedule for fire in sent] == [HEARTBEAT_SCHEDULE_NAME] * 2
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    messages = [FireMessage.model_validate_json(body) for body in bodies]
    assert {(m.tenant, m.job_id, m.fire_token) for m in messages} == {
        (HEARTBEAT_TENANT, HEARTBEAT_JOB_ID, TOKEN)
    }


def test_missed_heartbeats_are_never_sent_again_after_a_restart() -> None:
    assert unexecuted(boto3.client("dynamodb"), JobKey(HEARTBEAT_TENANT, HEARTBEAT_JOB_ID), [START]) == []
