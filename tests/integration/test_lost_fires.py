"""Where a fire can be lost or stuck, counted: schedule-sync failures (logged with the job id, counted),
schedules in `error` and executions still `running` after their lease (the job census's gauges)."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from jobsched import config, telemetry
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.fire import FireMessage
from jobsched.execution.models import ExecutionStatus
from jobsched.execution.ports import Claim
from jobsched.jobs.adapters.job_census import count_stuck_executions, take_census
from jobsched.jobs.models import ScheduleState
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.adapters.sync_setup import build_sync
from jobsched.scheduling.settings import SchedulingSettings
from jobsched.scheduling.sync import ChangeKind, JobChange, ScheduleSync
from tests.integration.scheduling_support import SERVING, client_for, job_service, principal, spec
from tests.support.emf import captured_logs, emitted_metrics, log_records, named

pytestmark = pytest.mark.usefixtures("aws")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=config.EXECUTOR_TIMEOUT_SECONDS)


class BrokenScheduler:
    """Every schedule call fails as AWS answers when the function's role lost its permission."""

    code, message = "AccessDeniedException", "not authorized"

    def __init__(self, real: object) -> None:
        self.exceptions = real.exceptions  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        def call(**kwargs: object) -> object:
            if name == "get_schedule" and self.code == "ValidationException":
                error = {"Error": {"Code": "ResourceNotFoundException", "Message": "no such schedule"}}
                raise ClientError(error, name)
            raise ClientError({"Error": {"Code": self.code, "Message": self.message}}, name)

        return call


class RefusingScheduler(BrokenScheduler):
    """The scheduler refuses the definition itself (as it does an expression it cannot run)."""

    code, message = "ValidationException", "Invalid Schedule Expression"


def sync_with(scheduler: object) -> ScheduleSync:
    """schedule-sync as its factory wires it (the reporters the Lambda and runtime use), on `scheduler`."""
    settings = SchedulingSettings(
        region=SERVING,
        execution_queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        scheduler_dlq_arn="arn:aws:sqs:us-east-1:123456789012:d",
        scheduler_role_arn="arn:aws:iam::123456789012:role/r",
    )
    return build_sync(settings, scheduler, client_for("dynamodb", SERVING))


def test_every_sync_failure_is_logged_with_its_job_id_and_counted(capsys: pytest.CaptureFixture[str]) -> None:
    job = job_service().create(principal(), spec()).job
    sync = sync_with(BrokenScheduler(client_for("scheduler", SERVING)))
    change = JobChange("rec-1", ChangeKind.INSERT, "acme", job["job_id"], None, 1)

    with captured_logs() as logs:
        result = sync.process_batch([change])

    assert result.failed_record_id == "rec-1"
    [line] = [r for r in log_records(logs) if r["message"] == "schedule-sync failed"]
    assert (line["tenant"], line["job_id"]) == ("acme", job["job_id"])
    assert line["error"].startswith("ClientError: ") and "AccessDeniedException" in line["error"]
    [count] = named(emitted_metrics(capsys.readouterr().out), telemetry.SCHEDULE_SYNC_FAILURES_TOTAL)
    assert (count.dimensions, count.values) == ({"service": config.SERVICE}, [1.0])


def test_a_schedule_the_scheduler_refuses_is_logged_with_its_job_id_and_recorded_on_the_job() -> None:
    job = job_service().create(principal(), spec()).job
    sync = sync_with(RefusingScheduler(client_for("scheduler", SERVING)))
    change = JobChange("rec-1", ChangeKind.INSERT, "acme", job["job_id"], None, 1)

    with captured_logs() as logs:
        result = sync.process_batch([change])

    assert result.failed_record_id is None  # refused for good: not retried
    [line] = [r for r in log_records(logs) if r["message"] == "schedule-sync: schedule rejected"]
    assert (line["tenant"], line["job_id"]) == ("acme", job["job_id"])
    assert "Invalid Schedule Expression" in line["error"]
    stored = DynamoJobScheduleStore(client_for("dynamodb", SERVING), config.JOBS_TABLE).current(
        JobKey("acme", job["job_id"])
    )
    assert stored is not None and stored.schedule_state is ScheduleState.ERROR
    assert "Invalid Schedule Expression" in (stored.schedule_error or "")


def _claim(job_id: str, scheduled: datetime, now: datetime) -> Claim:
    message = FireMessage(tenant="acme", job_id=job_id, job_version=1, scheduled_time=scheduled)
    return Claim(
        job=JobKey("acme", job_id),
        message=message,
        execution_id=message.effective_execution_id,
        attempt=1,
        max_attempts=3,
        now=now,
        lease_until=now + LEASE,
    )


def test_executions_running_past_their_lease_are_counted_as_stuck_and_finished_ones_are_not() -> None:
    dynamodb = boto3.client("dynamodb")
    store = DynamoExecutionStore(dynamodb, config.EXECUTIONS_TABLE)
    long_ago = NOW - timedelta(hours=2)
    dead = [_claim(f"job_dead{i}", long_ago + timedelta(minutes=i), long_ago) for i in range(5)]
    live = _claim("job_live", NOW, NOW - timedelta(seconds=30))
    finished = _claim("job_done", long_ago, long_ago)
    waiting = _claim("job_waiting", long_ago, long_ago)
    for claim in (*dead, live, finished, waiting):
        assert store.claim(claim)
    store.finish(
        JobKey("acme", "job_done"),
        finished.execution_id,
        1,
        status=ExecutionStatus.SUCCEEDED,
        finished_at=long_ago,
        outcome=None,
        skip_reason=None,
    )
    # A retry due in ten minutes is not stuck now, even though its first attempt's lease is long over.
    from jobsched.execution.models import Outcome

    store.await_retry(
        JobKey("acme", "job_waiting"),
        waiting.execution_id,
        1,
        Outcome(succeeded=False, duration_ms=5, error="HTTP 503"),
        next_attempt_at=NOW + timedelta(minutes=10),
        active_until=NOW + timedelta(minutes=10) + LEASE,
    )

    assert count_stuck_executions(dynamodb, config.EXECUTIONS_TABLE, NOW) == 5
    assert count_stuck_executions(dynamodb, config.EXECUTIONS_TABLE, NOW + timedelta(hours=1)) == 7


def test_the_census_counts_schedules_in_error_and_emits_its_three_gauges(
    capsys: pytest.CaptureFixture[str],
) -> None:
    jobs = [job_service().create(principal(tenant), spec()).job for tenant in ("acme", "acme", "globex")]
    dynamodb = boto3.client("dynamodb")
    DynamoJobScheduleStore(dynamodb, config.JOBS_TABLE).record_schedule_state(
        JobKey("acme", jobs[0]["job_id"]),
        version=1,
        state=ScheduleState.ERROR,
        arn=None,
        error="ValidationException: bad expression",
        at=NOW,
    )

    census = take_census(dynamodb, config.JOBS_TABLE, config.EXECUTIONS_TABLE, NOW)
    handler = importlib.import_module("functions.job_metrics.handler")
    answer = handler.handler({}, None)

    assert (census.active_jobs, census.schedules_in_error, census.stuck_executions) == (3, 1, 0)
    assert answer == {"active_jobs": 3, "schedules_in_error": 1, "stuck_executions": 0}
    emitted = emitted_metrics(capsys.readouterr().out)
    assert [m.values for m in named(emitted, telemetry.SCHEDULES_IN_ERROR_GAUGE)] == [[1.0]]
    assert [m.values for m in named(emitted, telemetry.STUCK_EXECUTIONS_GAUGE)] == [[0.0]]
    assert [m.values for m in named(emitted, telemetry.ACTIVE_JOBS_GAUGE)] == [[3.0]]
    # The namespace and the one dimension the SchedulesInError and StuckExecutions alarms read.
    for gauge in (telemetry.SCHEDULES_IN_ERROR_GAUGE, telemetry.STUCK_EXECUTIONS_GAUGE):
        [metric] = named(emitted, gauge)
        assert metric.namespace == config.METRICS_NAMESPACE
        assert metric.dimensions == {"service": config.SERVICE}
