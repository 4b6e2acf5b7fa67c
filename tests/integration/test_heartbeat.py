"""The dead man's switch: the executor records genuine heartbeat fires, rejects forged ones, and
`jobsched regions status` shows each region's last heartbeat; the local schedule clock fires it."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import boto3
import pytest

from jobsched import config, telemetry
from jobsched.errors import DomainError
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.health_probe import ApiHealthProbe
from jobsched.execution.adapters.heartbeats import DynamoHeartbeats
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage
from jobsched.execution.heartbeat import (
    HEARTBEAT_JOB_ID,
    HEARTBEAT_SCHEDULE_NAME,
    HEARTBEAT_TENANT,
    HealthProbe,
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
from tests.support.emf import captured_logs, emitted_metrics, log_records, named

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


def make_executor(
    now: datetime,
    rejected: list[Rejection],
    received: list[Heartbeat],
    probe: HealthProbe | None = None,
) -> Executor:
    dynamodb = boto3.client("dynamodb")

    def on_received(heartbeat: Heartbeat) -> None:
        received.append(heartbeat)
        telemetry.record_heartbeat()

    receiver = HeartbeatReceiver(
        "us-east-1",
        TOKEN,
        DynamoHeartbeats(dynamodb, config.JOBS_TABLE),
        on_received=on_received,
        probe=probe,
        on_unanswered=telemetry.record_heartbeat_unanswered,
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


@pytest.fixture
def own_api() -> Iterator[tuple[str, list[int]]]:
    """The region's API health route on loopback: answers each GET with the next status of the list."""
    statuses = [200]
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(self.path)
            self.send_response(statuses[0])
            self.end_headers()
            self.wfile.write(b'{"status": "ok"}')

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/health", statuses
    server.shutdown()
    server.server_close()
    assert calls == ["/health"] * len(calls)


def test_a_heartbeat_is_recorded_only_after_its_target_the_regions_own_api_answered(
    own_api: tuple[str, list[int]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, statuses = own_api
    received: list[Heartbeat] = []
    executor = make_executor(START, [], received, probe=ApiHealthProbe(url))
    store = DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE)

    assert executor.process(heartbeat_fire(START)) is Result.HEARTBEAT
    assert store.latest(["us-east-1"]) == {"us-east-1": Heartbeat("us-east-1", START, START)}
    statuses[0] = 503
    with captured_logs() as logs:
        executor.process(heartbeat_fire(START + timedelta(minutes=1)))

    # The unanswered one is neither recorded nor counted: three of those and HeartbeatMissing pages.
    assert store.latest(["us-east-1"]) == {"us-east-1": Heartbeat("us-east-1", START, START)}
    assert len(received) == 1
    assert [m.values for m in named(emitted_metrics(capsys.readouterr().out), telemetry.HEARTBEAT_OK)] == [
        [1.0]
    ]
    [line] = [r for r in log_records(logs) if r["message"] == "heartbeat target did not answer"]
    assert line["error"] == "HTTP 503"


def test_a_heartbeat_whose_target_does_not_answer_at_all_is_not_recorded() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unanswered: list[str] = []
    receiver = HeartbeatReceiver(
        "us-east-1",
        TOKEN,
        DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE),
        probe=ApiHealthProbe(f"http://127.0.0.1:{port}/health", timeout=2),
        on_unanswered=unanswered.append,
    )

    assert receiver.receive(heartbeat_fire(START), START) is None
    assert [error.split(":")[0] for error in unanswered] == ["URLError"]
    assert DynamoHeartbeats(boto3.client("dynamodb"), config.JOBS_TABLE).latest(["us-east-1"]) == {
        "us-east-1": None
    }


@pytest.mark.parametrize("url", ["ftp://example.com/health", "file:///etc/passwd", "127.0.0.1/health"])
def test_the_heartbeat_target_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        ApiHealthProbe(url)
