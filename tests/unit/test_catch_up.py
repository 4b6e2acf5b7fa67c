"""Catch-up of missed fires and backfill: the rules, the executor's verdict, a resume, on fakes (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched.api.auth import Principal
from jobsched.config import Role, Tier
from jobsched.errors import Conflict, InvalidInput
from jobsched.execution.backfill import MAX_BACKFILL_FIRES, backfill_times, send_all
from jobsched.execution.executor import Executor, Result
from jobsched.execution.fire import FireMessage, Trigger, execution_id_for, new_fire_token
from jobsched.execution.missed_fires import missed_fire_reason
from jobsched.execution.models import Execution, ExecutionStatus, Outcome, SkipReason
from jobsched.execution.ports import Claim, Delivery, LoadedJob
from jobsched.execution.service import ExecutionService
from jobsched.jobs.models import Job, JobSpec, LastExecution
from jobsched.keyscheme import JobKey
from jobsched.scheduling.catch_up import CatchUp, CatchUpVerdict, fires_to_run, verdict
from jobsched.scheduling.control import ScheduleControl
from jobsched.scheduling.pause_catch_up import missed_in_pause
from jobsched.scheduling.sync import max_event_age, render_schedule
from jobsched_local.schedule_clock import due_fires
from tests.support.fakes import InMemoryExecutions, InMemoryJobs, stored_job

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
TOKEN = new_fire_token()
OPERATOR = Principal(tenant="acme", role=Role.OPERATOR, tier=Tier.BASIC, key_id="k1")


def catch_up(policy: str = "once", window: str = "PT1H") -> CatchUp:
    return CatchUp.model_validate({"policy": policy, "window": window})


def job(
    expression: str = "rate(10 minutes)",
    policy: str = "once",
    window: str = "PT1H",
    timezone: str = "UTC",
    exclusions: list[Any] | None = None,
    **extra: Any,
) -> Job:
    fields: dict[str, Any] = {
        "name": "report",
        "version": 3,
        "created_at": NOW - timedelta(days=30),
        "updated_at": NOW - timedelta(hours=3),
        "schedule": {
            "expression": expression,
            "timezone": timezone,
            "start_at": "2026-11-01T00:00:00Z",
            "exclusions": exclusions or [],
        },
        "fire_token": TOKEN,
        "catch_up": {"policy": policy, "window": window},
    }
    return stored_job("job_a", NOW, **(fields | extra))


def spec(**catch: Any) -> dict[str, Any]:
    return {
        "name": "n",
        "schedule": {"expression": "rate(5 minutes)"},
        "target": {"url": "https://hooks.example.com/a"},
        "catch_up": catch,
    }


# --- the policy on a job -----------------------------------------------------------------------------


def test_a_job_catches_up_once_within_an_hour_by_default_and_says_so_in_iso_8601() -> None:
    dumped = JobSpec.model_validate(spec()).model_dump(mode="json")
    assert dumped["catch_up"] == {"policy": "once", "window": "PT1H"}
    assert JobSpec.model_validate(spec(policy="all", window="P7D")).catch_up.window == timedelta(days=7)


@pytest.mark.parametrize(
    ("catch", "field"),
    [
        ({"policy": "sometimes"}, ("catch_up", "policy")),
        ({"window": "P8D"}, ("catch_up", "window")),
        ({"window": "PT30S"}, ("catch_up", "window")),
        ({"window": "3600"}, ("catch_up", "window")),
        ({"window": 3600}, ("catch_up", "window")),
        ({"window": "one hour"}, ("catch_up", "window")),
        ({"every": "PT1H"}, ("catch_up", "every")),
    ],
)
def test_an_invalid_catch_up_is_refused_naming_the_field(
    catch: dict[str, Any], field: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate(spec(**catch))
    assert [error["loc"] for error in caught.value.errors()] == [field]


# --- the verdict ---------------------------------------------------------------------------------------


def test_a_fire_within_the_grace_always_runs_whatever_the_policy() -> None:
    for policy in ("skip", "once", "all"):
        assert verdict(catch_up(policy), NOW - timedelta(minutes=14), NOW - timedelta(minutes=4), NOW) is None


def test_a_fire_later_than_the_window_never_runs() -> None:
    late = NOW - timedelta(hours=2)
    for policy in ("once", "all"):
        assert verdict(catch_up(policy), late, None, NOW) is CatchUpVerdict.OUTSIDE_WINDOW
    assert verdict(catch_up("all", "PT3H"), late, NOW - timedelta(hours=1), NOW) is None


def test_the_flexible_window_is_on_time() -> None:
    fire = NOW - timedelta(minutes=40)
    assert verdict(catch_up("skip"), fire, None, NOW, timedelta(minutes=30)) is None
    assert verdict(catch_up("skip"), fire, None, NOW) is CatchUpVerdict.SKIPPED


def test_policies_over_an_outage_of_an_hour() -> None:
    fires = [NOW - timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    following = NOW + timedelta(minutes=0)
    assert fires_to_run(catch_up("skip"), fires, following, NOW) == [fires[-1]]
    # once: missed fires collapse into the latest missed one; the on-time fire runs as always
    assert fires_to_run(catch_up("once"), fires, following, NOW) == fires[-2:]
    assert fires_to_run(catch_up("all"), fires, following, NOW) == fires
    assert fires_to_run(catch_up("all", "PT35M"), fires, following, NOW) == fires[2:]
    # all missed (the outage ended just now): once runs exactly one, the latest
    missed = [NOW - timedelta(minutes=m) for m in (55, 45, 35, 25)]
    assert fires_to_run(catch_up("once"), missed, NOW + timedelta(minutes=5), NOW) == [missed[-1]]


# --- the executor ------------------------------------------------------------------------------------


class FakeJobs:
    def __init__(self, found: Job) -> None:
        self.job = found

    def load(self, job: JobKey) -> LoadedJob | None:
        return LoadedJob(job=self.job, webhook_secret="whsec_x")

    def get(self, key: JobKey) -> Job:
        return self.job

    def record_last_execution(self, job: JobKey, summary: LastExecution) -> None:
        pass


class FakeStore:
    def __init__(self) -> None:
        self.finished: list[tuple[str, ExecutionStatus, SkipReason | None]] = []

    def claim(self, claim: Claim) -> bool:
        return True

    def finish(self, job: JobKey, execution_id: str, attempt: int, **kw: Any) -> Execution | None:
        self.finished.append((execution_id, kw["status"], kw["skip_reason"]))
        return None

    def await_retry(self, *args: Any, **kwargs: Any) -> None:
        pass

    def earlier_run_active(self, *args: Any) -> bool:
        return False


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[FireMessage] = []

    def send(self, message: FireMessage, delay_seconds: int) -> None:
        self.sent.append(message)


class FakeBatchQueue(FakeQueue):
    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []

    def send_many(self, messages: list[FireMessage]) -> None:
        self.batches.append(len(messages))
        self.sent += messages


class FakeTarget:
    def __init__(self) -> None:
        self.calls: list[Delivery] = []

    def invoke(self, job: Job, secret: str | None, delivery: Delivery) -> Outcome:
        self.calls.append(delivery)
        return Outcome(succeeded=True, duration_ms=1, status_code=200)


def process(found: Job, scheduled: datetime, **extra: Any) -> tuple[Result, FakeStore, FakeTarget]:
    store, target = FakeStore(), FakeTarget()
    executor = Executor(
        store=store,
        jobs=FakeJobs(found),
        queue=FakeQueue(),
        invoker=target,
        lease=timedelta(minutes=15),
        clock=lambda: NOW,
    )
    message = FireMessage(
        tenant="acme",
        job_id="job_a",
        job_version=3,
        scheduled_time=scheduled,
        fire_token=TOKEN,
        **extra,
    )
    return executor.process(message), store, target


def test_the_executor_skips_a_late_scheduled_fire_with_the_policy_as_its_reason() -> None:
    # fires every 10 minutes from 00:00; at 12:00 a fire of 11:30 arrives (the region was down)
    result, store, target = process(job(policy="skip"), NOW - timedelta(minutes=30))
    assert (result, target.calls) == (Result.SKIPPED, [])
    assert store.finished[0][1:] == (ExecutionStatus.SKIPPED, SkipReason.CATCH_UP_SKIP)
    # once: 11:30 is superseded by 11:40 (itself missed); 11:40 runs: its successor 11:50 is on time
    assert missed_fire_reason(job(), NOW - timedelta(minutes=30), NOW) is SkipReason.CATCH_UP_SUPERSEDED
    assert missed_fire_reason(job(), NOW - timedelta(minutes=20), NOW) is None
    assert missed_fire_reason(job(policy="all"), NOW - timedelta(hours=2), NOW) is SkipReason.CATCH_UP_WINDOW


def test_the_executor_leaves_on_time_fires_retries_and_other_triggers_alone() -> None:
    assert process(job(policy="skip"), NOW - timedelta(minutes=10))[0] is Result.SUCCEEDED
    late = NOW - timedelta(minutes=30)
    assert process(job(policy="skip"), late, attempt=2, execution_id="exe_x")[0] is Result.SUCCEEDED
    assert process(job(policy="skip"), late, trigger=Trigger.BACKFILL)[0] is Result.SUCCEEDED


# --- backfill ----------------------------------------------------------------------------------------


def test_backfill_takes_every_fire_of_the_range_inclusive_in_the_jobs_time_zone() -> None:
    hourly = job("cron(0 * * * ? *)")
    times = backfill_times(hourly, datetime(2026, 12, 1, 8), datetime(2026, 12, 1, 11), NOW)
    assert times == [datetime(2026, 12, 1, h, tzinfo=UTC) for h in (8, 9, 10, 11)]
    tokyo = job("cron(0 * * * ? *)", timezone="Asia/Tokyo")
    # 18:00-19:00 in Tokyo are 09:00-10:00 UTC
    assert backfill_times(tokyo, datetime(2026, 12, 1, 18), datetime(2026, 12, 1, 19), NOW) == times[1:3]


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        (NOW - timedelta(hours=1), NOW - timedelta(hours=2), "must not be before from"),
        (NOW - timedelta(hours=1), NOW + timedelta(minutes=1), "must not be in the future"),
        (NOW - timedelta(days=8), NOW, f"more than {MAX_BACKFILL_FIRES} fires"),
    ],
)
def test_a_backfill_range_that_cannot_be_is_a_422_on_to(start: datetime, end: datetime, why: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        backfill_times(job(), start, end, NOW)
    assert caught.value.details[0]["field"] == "to"
    assert why in caught.value.details[0]["message"]


def test_a_range_before_1970_or_outside_the_calendar_is_a_422_on_from() -> None:
    with pytest.raises(InvalidInput) as caught:
        backfill_times(job("cron(0 12 ? * MON-FRI *)"), datetime.min.replace(tzinfo=UTC), NOW, NOW)
    assert caught.value.details[0] == {"field": "from", "message": "must be 1970-01-01 or later"}
    with pytest.raises(InvalidInput) as caught:
        backfill_times(job(timezone="Asia/Tokyo"), datetime(1, 1, 1), NOW, NOW)
    assert caught.value.details[0]["field"] == "from"
    assert backfill_times(job("at(2026-11-30T10:00:00)"), datetime(1970, 1, 1, tzinfo=UTC), NOW, NOW) == [
        datetime(2026, 11, 30, 10, tzinfo=UTC)
    ]


def test_exactly_a_thousand_fires_is_allowed() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    times = backfill_times(job(), start, start + timedelta(minutes=10 * 999), NOW)
    assert len(times) == MAX_BACKFILL_FIRES


def test_backfill_queues_each_fire_with_its_scheduled_execution_id_in_batches() -> None:
    queue = FakeBatchQueue()
    service = ExecutionService(FakeJobs(job()), history=InMemoryExecutions(), queue=queue, clock=lambda: NOW)
    done = service.backfill(OPERATOR, "job_a", NOW - timedelta(minutes=30), NOW - timedelta(minutes=10))
    assert done.scheduled_times == [NOW - timedelta(minutes=m) for m in (30, 20, 10)]
    assert queue.batches == [3]
    assert [(m.trigger, m.execution_id, m.fire_token, m.triggered_by) for m in queue.sent] == [
        (Trigger.BACKFILL, execution_id_for("job_a", t), TOKEN, OPERATOR.key_id) for t in done.scheduled_times
    ]
    with pytest.raises(Conflict):
        legacy = ExecutionService(
            FakeJobs(job(fire_token=None)), history=InMemoryExecutions(), queue=queue, clock=lambda: NOW
        )
        legacy.backfill(OPERATOR, "job_a", NOW - timedelta(minutes=30), NOW)


def test_send_all_falls_back_to_one_send_per_message() -> None:
    queue = FakeQueue()
    send_all(queue, [FireMessage(tenant="a", job_id="j", job_version=1, scheduled_time=NOW)] * 2)
    assert len(queue.sent) == 2


# --- resume after a pause ----------------------------------------------------------------------------


def test_a_resume_runs_the_fires_of_the_pause_as_the_policy_says() -> None:
    paused = NOW - timedelta(minutes=45)  # 11:15; fires at 11:20 ... 12:00
    assert missed_in_pause(job(policy="skip"), paused, NOW) == []
    assert missed_in_pause(job(policy="once"), paused, NOW) == [NOW]
    assert missed_in_pause(job(policy="all"), paused, NOW) == [
        NOW - timedelta(minutes=m) for m in (40, 30, 20, 10, 0)
    ]
    # paused for days: the window bounds what is looked at
    long_ago = NOW - timedelta(days=3)
    assert len(missed_in_pause(job(policy="all", window="P1D"), long_ago, NOW)) == 6 * 24 + 1


def test_resuming_queues_the_missed_fires_with_the_new_version_and_an_idempotent_resume_queues_nothing() -> (
    None
):
    paused = job(policy="all", enabled=False, status="paused", updated_at=NOW - timedelta(minutes=25))
    queue = FakeQueue()
    store = InMemoryJobs()
    store.jobs[OPERATOR.job(paused.job_id)] = paused
    control = ScheduleControl(store, "us-east-1", clock=lambda: NOW, catch_up_queue=queue)
    control.resume(OPERATOR, "job_a")
    assert [(m.scheduled_time, m.trigger, m.job_version) for m in queue.sent] == [
        (NOW - timedelta(minutes=m), Trigger.CATCH_UP, 4) for m in (20, 10, 0)
    ]
    assert queue.sent[0].effective_execution_id == execution_id_for("job_a", NOW - timedelta(minutes=20))
    control.resume(OPERATOR, "job_a")
    assert len(queue.sent) == 3


# --- on AWS and in the local clock -------------------------------------------------------------------


def test_the_scheduler_keeps_retrying_a_fire_for_the_window_within_its_bounds() -> None:
    assert max_event_age(catch_up(window="PT1M")) == 60
    assert max_event_age(catch_up(window="PT2H")) == 7200
    assert max_event_age(catch_up(window="P7D")) == 86_400
    assert render_schedule("acme", job(window="PT2H")).max_event_age_seconds == 7200


def test_the_clock_follows_the_policy_after_a_restart() -> None:
    every_ten = {
        "Name": "s",
        "ScheduleExpression": "rate(10 minutes)",
        "StartDate": datetime(2026, 11, 1, tzinfo=UTC),
    }
    since = NOW - timedelta(hours=5)  # down for five hours
    # on time (within 15 minutes): 11:50 and 12:00; missed: 11:00 ... 11:40 of the hour's window
    assert due_fires(every_ten, since, NOW, catch_up=catch_up("skip")).fires == [
        NOW - timedelta(minutes=10),
        NOW,
    ]
    once = due_fires(every_ten, since, NOW, catch_up=catch_up("once"))
    assert once.fires == [NOW - timedelta(minutes=m) for m in (20, 10, 0)]
    assert once.last_due == NOW
    assert once.passed_over == 4
    assert (
        len(due_fires(every_ten, since, NOW, catch_up=catch_up("all", "P1D")).fires) == 30
    )  # (07:00, 12:00]
    # the mark moves past what the policy passed over: the next tick sends nothing again
    assert due_fires(every_ten, NOW, NOW + timedelta(minutes=1), catch_up=catch_up("once")).fires == []
