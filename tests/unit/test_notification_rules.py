"""Failure and recovery notices: the job's settings, and once per transition through the executor (fakes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched.execution.adapters.notification_channels import NotificationSender
from jobsched.execution.executor import Executor, Result
from jobsched.execution.fire import FireMessage, Trigger, new_fire_token
from jobsched.execution.models import Execution, ExecutionStatus, NotificationRecord, Outcome
from jobsched.execution.notifications import Notice, Notifier
from jobsched.execution.ports import Claim, Delivery, LoadedJob
from jobsched.jobs.models import Job, JobSpec, LastExecution, NotificationEvent
from jobsched.keyscheme import JobKey
from tests.support.fakes import stored_job

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
TOKEN = new_fire_token()


def spec(notifications: Any) -> dict[str, Any]:
    return {
        "name": "n",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"url": "https://hooks.example.com/a"},
        "notifications": notifications,
    }


def test_notifications_default_to_both_events_and_need_a_channel() -> None:
    parsed = JobSpec.model_validate(spec({"email": "ops@example.com"})).notifications
    assert parsed is not None and parsed.on == [NotificationEvent.FAILURE, NotificationEvent.RECOVERY]
    assert JobSpec.model_validate(spec(None)).notifications is None


@pytest.mark.parametrize(
    ("notifications", "field"),
    [
        ({}, ("notifications",)),
        ({"on": ["failure"]}, ("notifications",)),
        ({"on": ["sometimes"], "email": "a@example.com"}, ("notifications", "on", 0)),
        ({"on": [], "email": "a@example.com"}, ("notifications", "on")),
        ({"on": ["failure", "failure"], "email": "a@example.com"}, ("notifications", "on")),
        ({"email": "not an address"}, ("notifications", "email")),
        ({"email": "a@localhost"}, ("notifications", "email")),
        ({"webhook": "ftp://example.com/x"}, ("notifications", "webhook")),
        ({"webhook": "https://example.com", "sms": "+1555"}, ("notifications", "sms")),
    ],
)
def test_invalid_notifications_are_refused_naming_the_field(
    notifications: Any, field: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate(spec(notifications))
    assert [error["loc"] for error in caught.value.errors()] == [field]


def job(**notifications: Any) -> Job:
    return stored_job(
        "job_a",
        NOW,
        name="report",
        updated_at=NOW - timedelta(days=1),
        schedule={"expression": "rate(5 minutes)"},
        retry_policy={"max_attempts": 2, "backoff_seconds": 1},
        fire_token=TOKEN,
        notifications=notifications or None,
    )


class FakeHealth:
    def __init__(self) -> None:
        self.state: str | None = None

    def mark(self, job: JobKey, *, failing: bool) -> bool:
        if failing and self.state != "failing":
            self.state = "failing"
            return True
        if not failing and self.state == "failing":
            self.state = "ok"
            return True
        return False


class FakeChannels:
    def __init__(self, webhook_error: str | None = None) -> None:
        self.sent: list[tuple[str, str, Notice]] = []
        self.webhook_error = webhook_error

    def webhook(self, url: str, notice: Notice) -> str | None:
        self.sent.append(("webhook", url, notice))
        return self.webhook_error

    def email(self, address: str, notice: Notice) -> str | None:
        self.sent.append(("email", address, notice))
        return None


class FakeLog:
    def __init__(self) -> None:
        self.records: list[tuple[str, NotificationRecord]] = []

    def record_notification(self, job: JobKey, execution_id: str, record: NotificationRecord) -> None:
        self.records.append((execution_id, record))


class World:
    """An executor whose target fails while `failing` is set; the store keeps each execution."""

    def __init__(self, found: Job, channels: FakeChannels | None = None) -> None:
        self.job = found
        self.failing = False
        self.attempts: dict[str, int] = {}
        self.health = FakeHealth()
        self.channels = channels or FakeChannels()
        self.log = FakeLog()
        self.executor = Executor(
            store=self,
            jobs=self,
            queue=self,
            invoker=self,
            lease=timedelta(minutes=15),
            clock=lambda: NOW,
            notifier=Notifier(self.health, self.channels, self.log, clock=lambda: NOW),
        )

    # JobReader
    def load(self, job: JobKey) -> LoadedJob | None:
        return LoadedJob(job=self.job, webhook_secret="whsec_" + "A" * 44)

    def record_last_execution(self, job: JobKey, summary: LastExecution) -> None:
        pass

    # ExecutionStore
    def claim(self, claim: Claim) -> bool:
        self.attempts[claim.execution_id] = claim.attempt
        return True

    def finish(self, job: JobKey, execution_id: str, attempt: int, **kw: Any) -> Execution | None:
        outcome = kw["outcome"]
        return Execution(
            execution_id=execution_id,
            job_id=job.job_id,
            trigger=Trigger.MANUAL,
            job_version=1,
            scheduled_at=NOW,
            attempts=attempt,
            status=kw["status"],
            status_code=outcome.status_code if outcome else None,
            error=outcome.error if outcome else None,
        )

    def await_retry(self, *args: Any, **kwargs: Any) -> None:
        pass

    def earlier_run_active(self, *args: Any) -> bool:
        return False

    # FireQueue
    def send(self, message: FireMessage, delay_seconds: int) -> None:
        pass

    # TargetInvoker
    def invoke(self, found: Job, secret: str | None, delivery: Delivery) -> Outcome:
        if self.failing:
            return Outcome(succeeded=False, duration_ms=1, status_code=500, error="HTTP 500")
        return Outcome(succeeded=True, duration_ms=1, status_code=200)

    def run(self, n: int, attempt: int = 1, max_attempts: int = 2) -> Result:
        message = FireMessage(
            tenant="acme",
            job_id="job_a",
            job_version=1,
            scheduled_time=NOW,
            trigger=Trigger.MANUAL,
            execution_id=f"exe_{n}",
            attempt=attempt,
            fire_token=TOKEN,
        )
        return self.executor.process(message)


def test_one_notice_per_transition_never_per_retry_or_repeat() -> None:
    world = World(job(webhook="https://hooks.example.com/n", email="ops@example.com"))
    assert world.run(1) is Result.SUCCEEDED  # healthy from the start: nothing to say
    world.failing = True
    assert world.run(2, attempt=1) is Result.RETRY_SCHEDULED  # a failed attempt with one left: no notice
    assert world.channels.sent == []
    assert world.run(2, attempt=2) is Result.FAILED
    assert world.run(3, attempt=2) is Result.FAILED  # still failing: no second notice
    world.failing = False
    assert world.run(4) is Result.SUCCEEDED
    assert world.run(5) is Result.SUCCEEDED
    sent = [
        (channel, notice.event, notice.execution.execution_id) for channel, _, notice in world.channels.sent
    ]
    assert sent == [
        ("webhook", NotificationEvent.FAILURE, "exe_2"),
        ("email", NotificationEvent.FAILURE, "exe_2"),
        ("webhook", NotificationEvent.RECOVERY, "exe_4"),
        ("email", NotificationEvent.RECOVERY, "exe_4"),
    ]
    assert [(execution_id, record.sent, record.channels) for execution_id, record in world.log.records] == [
        ("exe_2", NotificationEvent.FAILURE, ["webhook", "email"]),
        ("exe_4", NotificationEvent.RECOVERY, ["webhook", "email"]),
    ]
    failure = world.channels.sent[0][2]
    assert failure.document()["type"] == "job.failed" and failure.document()["status_code"] == 500
    assert failure.webhook_id == "exe_2.failure"


def test_only_the_events_asked_for_are_sent_and_a_channels_error_is_recorded() -> None:
    world = World(job(on=["recovery"], webhook="https://hooks.example.com/n"), FakeChannels("HTTP 503"))
    world.failing = True
    world.run(1, attempt=2)
    assert world.channels.sent == [] and world.log.records == []
    world.failing = False
    world.run(2)
    [(execution_id, record)] = world.log.records
    assert (execution_id, record.sent, record.errors) == (
        "exe_2",
        NotificationEvent.RECOVERY,
        {"webhook": "HTTP 503"},
    )


def test_a_job_without_notifications_never_touches_its_health() -> None:
    world = World(job())
    world.failing = True
    world.run(1, attempt=2)
    assert world.health.state is None and world.log.records == []


def test_the_notice_webhook_is_signed_with_the_jobs_secret() -> None:
    captured: dict[str, Any] = {}

    class Recording:
        def invoke(self, found: Job, target: Any, secret: str | None, delivery: Delivery) -> Outcome:
            captured.update(target=target, secret=secret, delivery=delivery)
            return Outcome(succeeded=False, duration_ms=1, status_code=404)

    sender = NotificationSender(Recording(), sns=None, topic_arn=None)  # type: ignore[arg-type]
    execution = Execution(
        execution_id="exe_1",
        job_id="job_a",
        trigger=Trigger.SCHEDULE,
        job_version=1,
        scheduled_at=NOW,
        status=ExecutionStatus.FAILED,
    )
    notice = Notice("acme", job(email="a@example.com"), execution, NotificationEvent.FAILURE, "whsec_x")
    assert sender.webhook("https://hooks.example.com/n", notice) == "the webhook answered 404"
    assert captured["secret"] == "whsec_x"
    assert captured["delivery"].execution_id == "exe_1.failure"
    assert captured["target"].headers == {"x-jobsched-event": "job.failed"}
    assert sender.email("a@example.com", notice) == "no notification topic is configured (SERVICE_ACCOUNT_ID)"
