"""The executor on moto: idempotent claims, crash and redelivery, retries, overlap, skips, batch failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.executor import Executor, Rejection, RejectReason, Result
from jobsched.execution.fire import FireMessage, Trigger
from jobsched.execution.models import Outcome
from jobsched.execution.ports import Delivery
from jobsched.jobs.adapters.job_store import DynamoJobStore
from jobsched.jobs.models import Job, JobSpec
from jobsched.jobs.service import JobService
from jobsched.keyscheme import JobKey
from jobsched.settings import Settings
from jobsched.telemetry import FIRES_REJECTED_TOTAL
from tests.support.emf import captured_logs, emitted_metrics, log_records, named

pytestmark = pytest.mark.usefixtures("aws")
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=config.EXECUTOR_TIMEOUT_SECONDS)
ADMIN = Principal(tenant="acme", role=Role.ADMIN, tier=Tier.PREMIUM, key_id="key_test")


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Crash(BaseException):
    """The function dying mid-call (a timeout or an out-of-memory kill): nothing after it runs."""


class ScriptedTarget:
    def __init__(self, *outcomes: Outcome | type[BaseException]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Delivery] = []

    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome:
        self.calls.append(delivery)
        outcome = self.outcomes.pop(0) if self.outcomes else OK
        if isinstance(outcome, type):
            raise outcome()
        return outcome


class RecordingQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[FireMessage, int]] = []

    def send(self, message: FireMessage, delay_seconds: int) -> None:
        self.sent.append((message, delay_seconds))


OK = Outcome(succeeded=True, duration_ms=12, status_code=200, response_excerpt="ok")
BAD = Outcome(succeeded=False, duration_ms=8, status_code=503, error="HTTP 503 Service Unavailable")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jobs() -> JobService:
    settings = Settings(region="us-east-1")
    return JobService(
        DynamoJobStore(boto3.client("dynamodb"), config.JOBS_TABLE),
        settings,
        clock=lambda: START - timedelta(days=1),
        resolver=lambda host, port: ["93.184.215.14"],
    )


def make_job(jobs: JobService, **overrides: Any) -> dict[str, Any]:
    spec = {
        "name": "report",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"type": "http", "url": "https://hooks.example.com/r", "body": '{"a": 1}'},
        "retry_policy": {"max_attempts": 3, "backoff_seconds": 1, "backoff_multiplier": 2.0},
    } | overrides
    return jobs.create(ADMIN, JobSpec.model_validate(spec)).job


def executor(clock: Clock, target: ScriptedTarget, queue: RecordingQueue, failures: list[str]) -> Executor:
    dynamodb = boto3.client("dynamodb")
    return Executor(
        store=DynamoExecutionStore(dynamodb, config.EXECUTIONS_TABLE),
        jobs=DynamoJobReader(dynamodb, config.JOBS_TABLE),
        queue=queue,
        invoker=target,
        lease=LEASE,
        on_final_failure=lambda job: failures.append(job.job_id),
        clock=clock,
    )


def fire_token(job_id: str) -> str | None:
    """The job's fire token as the job item holds it (no API response ever shows it)."""
    loaded = DynamoJobReader(boto3.client("dynamodb"), config.JOBS_TABLE).load(JobKey("acme", job_id))
    return loaded.job.fire_token if loaded else None


def fire(job: dict[str, Any], **overrides: Any) -> FireMessage:
    return FireMessage.model_validate(
        {
            "tenant": "acme",
            "job_id": job["job_id"],
            "job_version": job["version"],
            "scheduled_time": START,
            "fire_token": fire_token(job["job_id"]),
        }
        | overrides
    )


def history(job_id: str) -> list[dict[str, Any]]:
    store = DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE)
    items, _ = store.list(JobKey("acme", job_id), limit=100, next_token=None, status=None)
    return [item.model_dump(mode="json") for item in items]


def test_a_fire_runs_once_and_is_recorded_on_the_job_without_a_version_bump(
    clock: Clock, jobs: JobService
) -> None:
    job = make_job(jobs)
    target, queue, failures = ScriptedTarget(OK), RecordingQueue(), []
    run = executor(clock, target, queue, failures)

    assert run.process(fire(job)) is Result.SUCCEEDED
    assert run.process(fire(job)) is Result.DUPLICATE  # the same fire delivered again

    assert len(target.calls) == 1
    [record] = history(job["job_id"])
    assert record["status"] == "succeeded" and record["attempts"] == 1
    assert (record["status_code"], record["response_excerpt"], record["trigger"]) == (200, "ok", "schedule")
    assert record["execution_id"] == fire(job).effective_execution_id
    stored = jobs.get(ADMIN, job["job_id"])
    assert stored.version == 1
    assert stored.last_execution is not None and stored.last_execution.status == "succeeded"


def test_a_crash_mid_call_is_taken_over_only_after_the_lease(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    target, queue = ScriptedTarget(Crash, OK), RecordingQueue()
    run = executor(clock, target, queue, [])

    with pytest.raises(Crash):
        run.process(fire(job))
    assert history(job["job_id"])[0]["status"] == "running"
    clock.now += timedelta(seconds=60)
    assert run.process(fire(job)) is Result.DUPLICATE  # another delivery while the first may still run
    clock.now += LEASE  # SQS redelivers after the visibility timeout, 6x the function's timeout
    assert run.process(fire(job)) is Result.SUCCEEDED

    assert len(target.calls) == 2
    assert {call.execution_id for call in target.calls} == {fire(job).effective_execution_id}
    assert history(job["job_id"])[0]["status"] == "succeeded"


def test_retries_to_exhaustion_keep_one_execution_and_count_a_final_failure(
    clock: Clock, jobs: JobService
) -> None:
    job = make_job(jobs)
    target, queue, failures = ScriptedTarget(BAD, BAD, BAD), RecordingQueue(), []
    run = executor(clock, target, queue, failures)

    assert run.process(fire(job)) is Result.RETRY_SCHEDULED
    second, delay = queue.sent[-1]
    assert (second.attempt, delay, second.execution_id) == (2, 1, fire(job).effective_execution_id)
    record = history(job["job_id"])[0]
    assert (record["status"], record["attempts"], record["status_code"]) == ("running", 1, 503)
    assert run.process(fire(job)) is Result.DUPLICATE  # a late duplicate of attempt 1 does not rerun it

    clock.now += timedelta(seconds=1)
    assert run.process(second) is Result.RETRY_SCHEDULED
    third, delay = queue.sent[-1]
    assert (third.attempt, delay) == (3, 2)
    clock.now += timedelta(seconds=2)
    assert run.process(third) is Result.FAILED
    assert run.process(third) is Result.DUPLICATE

    assert [call.attempt for call in target.calls] == [1, 2, 3]
    [record] = history(job["job_id"])
    assert (record["status"], record["attempts"], record["error"]) == (
        "failed",
        3,
        "HTTP 503 Service Unavailable",
    )
    assert failures == [job["job_id"]]
    assert len(queue.sent) == 2


def test_a_failure_then_success_is_one_execution(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    target, queue = ScriptedTarget(BAD, OK), RecordingQueue()
    run = executor(clock, target, queue, [])
    run.process(fire(job))
    clock.now += timedelta(seconds=1)
    assert run.process(queue.sent[-1][0]) is Result.SUCCEEDED
    [record] = history(job["job_id"])
    assert (record["status"], record["attempts"], record["status_code"], record["error"]) == (
        "succeeded",
        2,
        200,
        None,
    )


def test_a_crash_after_queueing_the_next_attempt_loses_nothing(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    target, queue = ScriptedTarget(BAD, OK), RecordingQueue()
    store = DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise Crash

    run = executor(clock, target, queue, [])
    store_of_run = run._store  # the crash is injected between queueing and recording
    original = store_of_run.await_retry
    store_of_run.await_retry = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        run.process(fire(job))
    store_of_run.await_retry = original  # type: ignore[method-assign]
    clock.now += timedelta(seconds=1)
    assert run.process(queue.sent[-1][0]) is Result.SUCCEEDED
    clock.now += LEASE
    assert run.process(fire(job)) is Result.DUPLICATE  # the first message, redelivered much later
    assert [call.attempt for call in target.calls] == [1, 2]
    assert store.get(JobKey("acme", job["job_id"]), fire(job).effective_execution_id).status == "succeeded"


def test_a_backoff_longer_than_sqs_allows_travels_in_hops(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs, retry_policy={"max_attempts": 2, "backoff_seconds": 2000})
    target, queue = ScriptedTarget(BAD, OK), RecordingQueue()
    run = executor(clock, target, queue, [])
    run.process(fire(job))
    message, delay = queue.sent[-1]
    assert delay == 900 and message.not_before == START + timedelta(seconds=2000)
    clock.now += timedelta(seconds=900)
    assert run.process(message) is Result.DEFERRED
    assert queue.sent[-1][1] == 900
    clock.now += timedelta(seconds=900)
    assert run.process(message) is Result.DEFERRED
    assert queue.sent[-1][1] == 200
    clock.now += timedelta(seconds=200)
    assert run.process(message) is Result.SUCCEEDED
    assert len(target.calls) == 2


def test_overlap_forbid_skips_a_fire_while_an_earlier_run_is_running(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs, overlap_policy="forbid")
    queue = RecordingQueue()
    later = fire(job, scheduled_time=START + timedelta(minutes=5))
    results: list[Result] = []

    class SlowTarget(ScriptedTarget):
        def invoke(self, job_: Job, secret: str | None, delivery: Delivery) -> Outcome:
            if not self.calls:  # while the first run is in its call, the next fire arrives
                clock.now = later.scheduled_time
                results.append(run.process(later))
            return super().invoke(job_, secret, delivery)

    target = SlowTarget(OK)
    run = executor(clock, target, queue, [])
    assert run.process(fire(job)) is Result.SUCCEEDED
    assert results == [Result.SKIPPED]
    newest, oldest = history(job["job_id"])
    assert (newest["status"], newest["skip_reason"]) == ("skipped", "overlap")
    assert oldest["status"] == "succeeded"
    assert len(target.calls) == 1


def test_overlap_allow_runs_both(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    target = ScriptedTarget(Crash, OK)
    run = executor(clock, target, RecordingQueue(), [])
    with pytest.raises(Crash):
        run.process(fire(job))
    assert run.process(fire(job, scheduled_time=START + timedelta(minutes=5))) is Result.SUCCEEDED


@pytest.mark.parametrize("change", ["paused", "edited"])
def test_a_job_that_changed_since_the_fire_is_skipped_with_the_reason(
    clock: Clock, jobs: JobService, change: str
) -> None:
    job = make_job(jobs)
    message = fire(job)
    spec = JobSpec.model_validate({k: job[k] for k in JobSpec.model_fields if k in job})
    if change == "paused":
        boto3.client("dynamodb").update_item(
            TableName=config.JOBS_TABLE,
            Key={"pk": {"S": "TENANT#acme"}, "sk": {"S": f"JOB#{job['job_id']}"}},
            UpdateExpression="SET #s = :p, enabled = :f",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "paused"}, ":f": {"BOOL": False}},
        )
    else:
        jobs.replace(ADMIN, job["job_id"], spec.model_copy(update={"name": "renamed"}), None)
    target = ScriptedTarget()
    assert executor(clock, target, RecordingQueue(), []).process(message) is Result.SKIPPED
    assert target.calls == []
    [record] = history(job["job_id"])
    expected = {"paused": "job_paused", "edited": "job_version_changed"}[change]
    assert (record["status"], record["skip_reason"]) == ("skipped", expected)


def test_a_fire_of_a_deleted_job_is_rejected_without_a_record(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs)
    message = fire(job)
    jobs.delete(ADMIN, job["job_id"])
    rejected: list[Rejection] = []
    run = Executor(
        store=DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE),
        jobs=DynamoJobReader(boto3.client("dynamodb"), config.JOBS_TABLE),
        queue=RecordingQueue(),
        invoker=ScriptedTarget(),
        lease=LEASE,
        on_rejected=rejected.append,
        clock=clock,
    )

    assert run.process(message) is Result.REJECTED
    assert history(job["job_id"]) == []
    assert [r.reason for r in rejected] == [RejectReason.UNKNOWN_JOB]


def test_a_run_now_of_a_paused_job_still_runs(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs, enabled=False)
    target = ScriptedTarget(OK)
    manual = fire(job, trigger=Trigger.MANUAL, execution_id="exe_20261201T100000Z_mabc")
    assert executor(clock, target, RecordingQueue(), []).process(manual) is Result.SUCCEEDED


def test_the_handler_drops_what_the_service_did_not_make_and_reports_only_what_failed(
    jobs: JobService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName=config.EXECUTION_QUEUE)
    from functions.executor import handler as executor_function

    victim = make_job(jobs)
    forged_token = "forged-" + "x" * 36
    gone = {"tenant": "acme", "job_id": "job_gone", "job_version": 1, "scheduled_time": START.isoformat()}
    forged = fire(victim, fire_token=forged_token, trigger="manual", execution_id="exe_20261201T100000Z_x")
    broken = fire(victim, job_id="job_broken", fire_token="t")
    real_load = executor_function.EXECUTOR._jobs.load

    def flaky_load(job: JobKey) -> Any:
        if job.job_id == "job_broken":
            raise ConnectionError("DynamoDB unreachable")
        return real_load(job)

    monkeypatch.setattr(executor_function.EXECUTOR._jobs, "load", flaky_load)
    event = {
        "Records": [
            _record("m-1", json.dumps(gone)),
            _record("m-2", "not json"),
            _record("m-3", forged.model_dump_json()),
            _record("m-4", broken.model_dump_json()),
        ]
    }
    with captured_logs() as logs:
        response = executor_function.handler(event, None)

    # Rejected messages are deleted (not reported), never retried into the DLQ; only a real failure returns.
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-4"}]}
    assert history("job_gone") == [] and history(victim["job_id"]) == []
    rejected = [r for r in log_records(logs) if r["message"] == "fire message rejected"]
    assert sorted(r["reason"] for r in rejected) == ["token_mismatch", "unknown_job", "unparseable"]
    assert forged_token not in logs.getvalue()
    assert {"claimed_job_id": victim["job_id"], "claimed_trigger": "manual"}.items() <= next(
        r for r in rejected if r["reason"] == "token_mismatch"
    ).items()
    counts = named(emitted_metrics(capsys.readouterr().out), FIRES_REJECTED_TOTAL)
    assert [(m.dimensions, m.values) for m in counts] == [({"service": config.SERVICE}, [1.0])] * 3


def _record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{config.EXECUTION_QUEUE}",
        "awsRegion": "us-east-1",
    }


def test_every_finished_execution_is_reported_once_with_its_duration(clock: Clock, jobs: JobService) -> None:
    job = make_job(jobs, retry_policy={"max_attempts": 2, "backoff_seconds": 1, "backoff_multiplier": 1.0})
    finished: list[tuple[str, float]] = []
    run = Executor(
        store=DynamoExecutionStore(boto3.client("dynamodb"), config.EXECUTIONS_TABLE),
        jobs=DynamoJobReader(boto3.client("dynamodb"), config.JOBS_TABLE),
        queue=RecordingQueue(),
        invoker=ScriptedTarget(BAD, OK),
        lease=LEASE,
        on_finished=lambda status, duration_ms: finished.append((status.value, duration_ms)),
        clock=clock,
    )
    run.process(fire(job))  # fails, a retry is queued: not finished yet
    assert finished == []
    run.process(fire(job, attempt=2, execution_id=history(job["job_id"])[0]["execution_id"]))
    assert finished == [("succeeded", 12.0)]
    jobs.replace(
        ADMIN, job["job_id"], JobSpec.model_validate({k: job[k] for k in JobSpec.model_fields}), None
    )
    run.process(fire(job, scheduled_time=START + timedelta(minutes=10)))  # stale version: skipped
    run.process(fire(job, job_id="job_deleted_meanwhile"))  # rejected: not an execution at all
    assert finished == [("succeeded", 12.0), ("skipped", 0.0)]
