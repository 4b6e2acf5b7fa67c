"""schedule-sync on moto: the jobs table's stream drives each region's EventBridge Scheduler schedules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobsched import config
from jobsched.execution.fire import FireMessage
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.adapters.scheduler import DeliveryTarget, EventBridgeScheduleGateway
from jobsched.scheduling.control import move_jobs
from jobsched.scheduling.sync import ChangeKind, JobChange, Outcome, ScheduleSync, schedule_name
from tests.integration.scheduling_support import (
    REGIONS,
    SERVING,
    Harness,
    client_for,
    future,
    job_service,
    principal,
    schedules,
    spec,
    stored,
)

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_a_new_job_gets_one_schedule_in_its_home_region_and_is_marked_synced(harness: Harness) -> None:
    job = job_service().create(principal(), spec(flexible_window_minutes=15)).job
    harness.settle()

    (schedule,) = schedules(SERVING)
    assert schedules("eu-west-1") == []
    assert schedule["Name"] == schedule_name(JobKey("acme", job["job_id"]))
    assert schedule["ScheduleExpression"] == "cron(0 18 ? * MON-FRI *)"
    assert schedule["ScheduleExpressionTimezone"] == "Asia/Tokyo"
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert schedule["Target"]["Arn"].endswith(f":{config.EXECUTION_QUEUE}")
    assert schedule["Target"]["DeadLetterConfig"]["Arn"].endswith(f":{config.SCHEDULER_DLQ}")
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] > 0
    filled = schedule["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", "2030-01-01T00:00:00Z")
    filled = filled.replace("<aws.scheduler.execution-id>", "e-1").replace(
        "<aws.scheduler.attempt-number>", "2"
    )
    message = FireMessage.model_validate(json.loads(filled))
    assert (message.tenant, message.job_id, message.job_version, message.scheduler_attempt) == (
        "acme",
        job["job_id"],
        1,
        2,
    )
    after = stored("acme", job["job_id"])
    assert message.fire_token == after["fire_token"] and len(after["fire_token"]) == 43
    assert after["schedule_state"] == "synced"
    assert after["schedule_arn"] == schedule["Arn"]
    assert after["version"] == 1  # the sync's own write keeps the version


def test_the_sync_does_not_wake_itself(harness: Harness) -> None:
    job_service().create(principal(), spec())

    assert harness.feeder.feed() > 0  # the create: makes the schedule, writes schedule_state
    assert harness.feeder.feed() == 1  # that write comes back on the stream, and is skipped
    assert harness.feeder.feed() == 0  # so nothing more is written


def test_an_update_start_end_and_an_at_job(harness: Harness) -> None:
    service = job_service()
    job = service.create(principal(), spec()).job
    harness.settle()
    service.replace(
        principal(),
        job["job_id"],
        spec(
            expression="rate(5 minutes)",
            timezone="Europe/Paris",
            start_at="2030-01-01T00:00:00",
            end_at="2031-01-01T00:00:00",
        ),
        None,
    )
    once = service.create(principal(), spec(expression=f"at({future(3600)})", timezone="UTC")).job
    harness.settle()

    by_name = {s["Name"]: s for s in schedules(SERVING)}
    updated = by_name[schedule_name(JobKey("acme", job["job_id"]))]
    assert updated["ScheduleExpression"] == "rate(5 minutes)"
    assert updated["Description"].endswith("v2")
    assert updated["StartDate"].astimezone(UTC) == datetime(2029, 12, 31, 23, 0, tzinfo=UTC)
    assert by_name[schedule_name(JobKey("acme", once["job_id"]))]["ActionAfterCompletion"] == "DELETE"
    assert stored("acme", job["job_id"])["schedule_state"] == "synced"


def test_pause_disables_resume_enables_and_delete_removes(harness: Harness) -> None:
    from jobsched.scheduling.control import ScheduleControl

    job = job_service().create(principal(), spec()).job
    control = ScheduleControl(
        DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE), SERVING
    )
    harness.settle()
    control.pause(principal(), job["job_id"], "maintenance")
    harness.settle()
    assert [s["State"] for s in schedules(SERVING)] == ["DISABLED"]
    control.resume(principal(), job["job_id"])
    harness.settle()
    assert [s["State"] for s in schedules(SERVING)] == ["ENABLED"]
    job_service().delete(principal(), job["job_id"])
    harness.settle()
    assert schedules(SERVING) == []


def test_moving_the_home_region_moves_the_schedule_and_is_safe_twice(harness: Harness) -> None:
    job = job_service().create(principal(), spec()).job
    harness.settle()
    store = DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE)

    first = move_jobs(
        store, store.jobs_in_region(SERVING), from_region=SERVING, to_region="eu-west-1", regions=REGIONS
    )
    harness.settle()
    second = move_jobs(
        store, store.jobs_in_region(SERVING), from_region=SERVING, to_region="eu-west-1", regions=REGIONS
    )

    assert (first.moved, second.moved) == (1, 0)
    assert schedules(SERVING) == []
    (moved,) = schedules("eu-west-1")
    assert moved["Name"] == schedule_name(JobKey("acme", job["job_id"]))
    assert stored("acme", job["job_id"])["schedule_arn"] == moved["Arn"]


def _records(harness: Harness) -> list[dict[str, Any]]:
    return harness.reader.read()


def test_replayed_and_out_of_order_records_never_resurrect(harness: Harness) -> None:
    service = job_service()
    job = service.create(principal(), spec()).job
    service.replace(principal(), job["job_id"], spec(expression="rate(1 hour)"), None)
    early = _records(harness)  # INSERT v1, MODIFY v1->v2, not yet applied
    sync = harness.syncs[0]
    from jobsched.scheduling.adapters.stream_records import job_change

    changes = [c for c in (job_change(r) for r in early) if c is not None]
    assert [sync.apply(c) for c in reversed(changes)] == [Outcome.CREATED, Outcome.SKIPPED]
    assert schedules(SERVING)[0]["ScheduleExpression"] == "rate(1 hour)"

    service.delete(principal(), job["job_id"])
    harness.settle()
    assert schedules(SERVING) == []
    # The whole history again (a replay after a failure): the deleted job stays deleted.
    assert {sync.apply(c) for c in changes} == {Outcome.UNCHANGED}
    assert schedules(SERVING) == []


def test_an_at_job_completes_after_its_one_run(harness: Harness) -> None:
    from jobsched.aws.dynamodb import to_item
    from jobsched.keyscheme import job_sk, tenant_pk

    when = future(3600)
    job = job_service().create(principal(), spec(expression=f"at({when})", timezone="UTC")).job
    harness.settle()
    client_for("dynamodb", SERVING).update_item(  # what the executor writes after the run
        TableName=config.JOBS_TABLE,
        Key=to_item({"pk": tenant_pk("acme"), "sk": job_sk(job["job_id"])}),
        UpdateExpression="SET last_execution = :run",
        ExpressionAttributeValues=to_item(
            {":run": {"execution_id": "exe_1", "status": "succeeded", "scheduled_at": f"{when}Z"}}
        ),
    )
    harness.settle()
    after = stored("acme", job["job_id"])
    assert after["status"] == "completed"
    assert after["version"] == 2
    assert schedules(SERVING) == []


class ThrottlingScheduler:
    """Throttles the first `times` writes, then passes calls to moto."""

    def __init__(self, real: Any, times: int) -> None:
        self._real = real
        self.exceptions = real.exceptions
        self._left = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        operation = getattr(self._real, name)
        if name not in {"create_schedule", "update_schedule", "delete_schedule"}:
            return operation

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            if self._left > 0:
                self._left -= 1
                from botocore.exceptions import ClientError

                error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
                raise ClientError(error, name)
            return operation(**kwargs)

        call.__name__ = name
        return call


def _gateway(scheduler: Any, sleeps: list[float]) -> EventBridgeScheduleGateway:
    target = DeliveryTarget(
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        role_arn="arn:aws:iam::123456789012:role/r",
        dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:d",
    )
    return EventBridgeScheduleGateway(
        scheduler, config.SCHEDULE_GROUP, target, sleep=sleeps.append, jitter=lambda ceiling: ceiling
    )


def test_throttled_writes_back_off_and_then_succeed(harness: Harness) -> None:
    job = job_service().create(principal(), spec()).job
    sleeps: list[float] = []
    scheduler = ThrottlingScheduler(client_for("scheduler", SERVING), times=3)
    store = DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE)
    sync = ScheduleSync(SERVING, _gateway(scheduler, sleeps), store)

    change = JobChange("1", ChangeKind.INSERT, "acme", job["job_id"], None, 1)
    assert sync.apply(change) is Outcome.CREATED
    assert sleeps == [0.2, 0.4, 0.8]  # exponential backoff between the throttled attempts
    assert len(schedules(SERVING)) == 1


def test_a_record_still_throttled_fails_the_batch_from_there_and_ends_in_the_dlq() -> None:
    dead: list[tuple[str, Any]] = []
    harness = Harness(dead)
    sleeps: list[float] = []
    store = DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE)
    scheduler = ThrottlingScheduler(client_for("scheduler", SERVING), times=10_000)
    harness.feeder._backlogs[0].sync = ScheduleSync(SERVING, _gateway(scheduler, sleeps), store)
    job_service().create(principal(), spec())

    for _ in range(5):
        harness.feeder.feed()

    assert schedules(SERVING) == []
    assert [region for region, _ in dead] == [SERVING]
    assert stored("acme", dead[0][1][0]["dynamodb"]["Keys"]["sk"]["S"].removeprefix("JOB#"))[
        "schedule_state"
    ] == ("pending")


def test_a_job_from_before_fire_tokens_gets_one_from_the_migration_and_its_schedule_follows(
    harness: Harness,
) -> None:
    import io

    import boto3

    from jobsched_cli.job_commands import issue_fire_tokens

    old = job_service().create(principal(), spec()).job
    new = job_service().create(principal(), spec()).job
    dynamodb = boto3.client("dynamodb", region_name=SERVING)
    dynamodb.update_item(
        TableName=config.JOBS_TABLE,
        Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{old['job_id']}"}},
        UpdateExpression="REMOVE fire_token",
    )
    harness.settle()
    by_name = {s["Name"]: s for s in schedules(SERVING)}
    assert "fire_token" not in by_name[schedule_name(JobKey("acme", old["job_id"]))]["Target"]["Input"]
    kept = stored("acme", new["job_id"])["fire_token"]

    out = io.StringIO()
    assert issue_fire_tokens(dynamodb, out=out, progress_to=io.StringIO()) == 1
    assert issue_fire_tokens(dynamodb, out=io.StringIO(), progress_to=io.StringIO()) == 0
    assert "issued a fire token to 1 job(s)" in out.getvalue()
    harness.settle()

    token = stored("acme", old["job_id"])["fire_token"]
    assert len(token) == 43 and stored("acme", new["job_id"])["fire_token"] == kept
    rewritten = {s["Name"]: s for s in schedules(SERVING)}[schedule_name(JobKey("acme", old["job_id"]))]
    assert f'"fire_token": "{token}"' in rewritten["Target"]["Input"]
    assert stored("acme", old["job_id"])["version"] == 1  # same definition, same version
