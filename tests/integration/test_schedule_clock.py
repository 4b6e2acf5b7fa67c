"""The local schedule clock on an injected time source, against moto's stored schedules and queues."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jobsched import config
from jobsched.execution.fire import FireMessage
from jobsched.keyscheme import JobKey
from jobsched.scheduling.adapters.scheduler import scheduler_input_template
from jobsched.scheduling.catch_up import CatchUp
from jobsched_local.schedule_clock import JobTimes, ScheduleClock, ScheduleMarks, fill_input, flexible_delay
from jobsched_local.scheduling_provision import provision_scheduling
from tests.integration.scheduling_support import client_for

pytestmark = pytest.mark.usefixtures("aws")
REGION = "us-east-1"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:{config.EXECUTION_QUEUE}"


class FakeTime:
    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value


@pytest.fixture(autouse=True)
def provisioned(aws: None) -> None:
    provision_scheduling([REGION], client_for)


def create(name: str, expression: str, timezone: str = "UTC", **extra: Any) -> None:
    client_for("scheduler", REGION).create_schedule(
        Name=name,
        GroupName=config.SCHEDULE_GROUP,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone=timezone,
        FlexibleTimeWindow=extra.pop("FlexibleTimeWindow", {"Mode": "OFF"}),
        Target={
            "Arn": QUEUE_ARN,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": scheduler_input_template(JobKey("acme", f"job_{name}"), 3, "tok"),
        },
        **extra,
    )


def clock(time: FakeTime, marks: Path | None = None, **lookups: Any) -> ScheduleClock:
    return ScheduleClock([REGION], client_for, ScheduleMarks(marks), now=time, **lookups)


def fired(time: FakeTime, at: datetime, the_clock: ScheduleClock) -> list[datetime]:
    time.value = at
    return [fire.scheduled_time for fire in the_clock.tick()]


def messages() -> list[FireMessage]:
    sqs = client_for("sqs", REGION)
    url = sqs.get_queue_url(QueueName=config.EXECUTION_QUEUE)["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [FireMessage.model_validate(json.loads(m["Body"])) for m in found]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_due_fire_lands_on_the_queue_as_the_scheduler_would_send_it() -> None:
    create("a", "at(2030-06-01T10:00:00)", "Europe/Paris", ActionAfterCompletion="DELETE")
    time = FakeTime(utc(2030, 6, 1, 7, 59, 59))
    the_clock = clock(time)

    assert fired(time, utc(2030, 6, 1, 7, 59, 59), the_clock) == []
    assert fired(time, utc(2030, 6, 1, 8, 0, 0), the_clock) == [utc(2030, 6, 1, 8)]

    (message,) = messages()
    assert (message.tenant, message.job_id, message.job_version) == ("acme", "job_a", 3)
    assert message.scheduled_time == utc(2030, 6, 1, 8)
    assert message.scheduler_execution_id and message.scheduler_attempt == 1
    # at() with ActionAfterCompletion=DELETE is gone after its fire
    assert client_for("scheduler", REGION).list_schedules(GroupName=config.SCHEDULE_GROUP)["Schedules"] == []


def test_cron_in_a_time_zone_skips_the_spring_forward_gap_and_fires_once_at_fall_back() -> None:
    create("d", "cron(30 2 * * ? *)", "Europe/Paris")
    time = FakeTime(utc(2027, 3, 27, 2))
    the_clock = clock(time)
    assert fired(time, utc(2027, 3, 27, 2), the_clock) == [utc(2027, 3, 27, 1, 30)]  # 02:30 CET
    assert fired(time, utc(2027, 3, 28, 12), the_clock) == []  # 02:30 does not exist that night
    assert fired(time, utc(2027, 3, 29, 1), the_clock) == [utc(2027, 3, 29, 0, 30)]  # 02:30 CEST

    # months later: the fires more than an hour late are skipped, the one due within the hour runs
    assert fired(time, utc(2027, 10, 30, 1, 0), the_clock) == [utc(2027, 10, 30, 0, 30)]
    assert fired(time, utc(2027, 10, 31, 1, 30), the_clock) == [utc(2027, 10, 31, 0, 30)]  # first 02:30 only
    assert fired(time, utc(2027, 10, 31, 12, 0), the_clock) == []


def test_a_restart_neither_fires_twice_nor_drops_what_fell_due_meanwhile(tmp_path: Path) -> None:
    marks = tmp_path / "schedule-clock.json"
    create("r", "rate(1 hour)", StartDate=utc(2030, 1, 1))
    time = FakeTime(utc(2030, 1, 1, 1))
    assert fired(time, utc(2030, 1, 1, 1), clock(time, marks)) == [utc(2030, 1, 1), utc(2030, 1, 1, 1)]

    restarted = clock(time, marks)
    assert fired(time, utc(2030, 1, 1, 1, 30), restarted) == []  # already fired before the restart
    # Down for 90 minutes: every fire of the last hour runs once, in order.
    assert fired(time, utc(2030, 1, 1, 3, 0), clock(time, marks)) == [utc(2030, 1, 1, 2), utc(2030, 1, 1, 3)]
    # Down for three hours: fires more than an hour late are skipped, the 06:00 one runs.
    assert fired(time, utc(2030, 1, 1, 6, 10), clock(time, marks)) == [utc(2030, 1, 1, 6)]
    assert fired(time, utc(2030, 1, 1, 7), clock(time, marks)) == [utc(2030, 1, 1, 7)]


def test_a_schedule_rebuilt_after_a_restart_counts_from_its_job_not_from_the_rebuild(tmp_path: Path) -> None:
    # moto's dates are those of the rebuild (now, real time); the job's own times are in the table.
    create("a", "at(2030-06-01T08:00:00)", ActionAfterCompletion="DELETE")
    create("m", "rate(10 minutes)")
    every_fire = CatchUp.model_validate({"policy": "all"})
    defined = JobTimes(
        created_at=utc(2030, 6, 1, 7, 3), updated_at=utc(2030, 6, 1, 7, 3), catch_up=every_fire
    )
    asked: list[JobKey] = []

    def job_times(job: JobKey) -> JobTimes:
        asked.append(job)
        return defined

    time = FakeTime(utc(2030, 6, 1, 8, 20))  # the runtime was down from 07:05 to 08:20
    sent = clock(time, tmp_path / "marks.json", job_times=job_times).tick()
    by_schedule = {(fire.schedule, fire.scheduled_time) for fire in sent}
    assert ("a", utc(2030, 6, 1, 8)) in by_schedule  # the at() due during the outage runs once
    # the rate keeps its anchor (the job's creation at 07:03): 07:23 ... 08:13, the last hour's fires
    assert sorted(t for name, t in by_schedule if name == "m") == [
        utc(2030, 6, 1, 7, 23),
        utc(2030, 6, 1, 7, 33),
        utc(2030, 6, 1, 7, 43),
        utc(2030, 6, 1, 7, 53),
        utc(2030, 6, 1, 8, 3),
        utc(2030, 6, 1, 8, 13),
    ]
    assert sorted(set(asked)) == [JobKey("acme", "job_a"), JobKey("acme", "job_m")]


def test_the_first_tick_sends_again_what_was_sent_but_never_ran(tmp_path: Path) -> None:
    marks = tmp_path / "schedule-clock.json"
    create("r", "rate(10 minutes)", StartDate=utc(2030, 1, 1))
    time = FakeTime(utc(2030, 1, 1, 0, 30))
    # 00:10 .. 00:30: by the default catch-up (once), 00:00 is superseded by 00:10, itself missed
    assert fired(time, utc(2030, 1, 1, 0, 30), clock(time, marks)) == [
        utc(2030, 1, 1, 0, 10),
        utc(2030, 1, 1, 0, 20),
        utc(2030, 1, 1, 0, 30),
    ]
    asked: list[list[datetime]] = []

    def unexecuted(job: JobKey, times: list[datetime]) -> list[datetime]:
        asked.append(times)
        return [t for t in times if t == utc(2030, 1, 1, 0, 30)]  # its message died with the runtime

    restarted = clock(time, marks, unexecuted=unexecuted)
    assert fired(time, utc(2030, 1, 1, 0, 35), restarted) == [utc(2030, 1, 1, 0, 30)]
    assert asked == [
        [utc(2030, 1, 1), utc(2030, 1, 1, 0, 10), utc(2030, 1, 1, 0, 20), utc(2030, 1, 1, 0, 30)]
    ]
    assert fired(time, utc(2030, 1, 1, 0, 40), restarted) == [
        utc(2030, 1, 1, 0, 40)
    ]  # only at the first tick
    assert len(asked) == 1


def test_start_end_and_flexible_window() -> None:
    create(
        "w",
        "rate(1 day)",
        StartDate=utc(2030, 1, 1),
        EndDate=utc(2030, 1, 2, 12),
        FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 30},
        ActionAfterCompletion="DELETE",
    )
    delay = flexible_delay("w", utc(2030, 1, 2), 30)
    assert timedelta(0) <= delay < timedelta(minutes=30)
    time = FakeTime(utc(2030, 1, 1, 0, 40))
    the_clock = clock(time)
    assert fired(time, utc(2030, 1, 1, 0, 40), the_clock) == [utc(2030, 1, 1)]
    assert fired(time, utc(2030, 1, 2) + delay - timedelta(seconds=1), the_clock) == []
    assert fired(time, utc(2030, 1, 2) + delay, the_clock) == [utc(2030, 1, 2)]
    # past its end date with DELETE: the schedule removes itself
    assert client_for("scheduler", REGION).list_schedules(GroupName=config.SCHEDULE_GROUP)["Schedules"] == []


def test_disabled_schedules_do_not_fire_and_resuming_does_not_replay_the_pause() -> None:
    create("p", "rate(1 hour)", StartDate=utc(2030, 1, 1), State="DISABLED", Description="v2")
    time = FakeTime(utc(2030, 1, 1, 5))
    resumed = JobTimes(created_at=utc(2030, 1, 1), updated_at=utc(2030, 1, 1, 5, 30))
    the_clock = clock(time, job_times=lambda job: resumed)
    assert fired(time, utc(2030, 1, 1, 5), the_clock) == []
    client_for("scheduler", REGION).update_schedule(
        Name="p",
        GroupName=config.SCHEDULE_GROUP,
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        State="ENABLED",
        Description="v3",
        StartDate=utc(2030, 1, 1),
        Target={
            "Arn": QUEUE_ARN,
            "RoleArn": "arn:aws:iam::123456789012:role/r",
            "Input": scheduler_input_template(JobKey("acme", "job_p"), 3, "tok"),
        },
    )
    # counts from the job's resume at 05:30 (its updated_at): the 05:00 fire of the pause never runs
    assert fired(time, utc(2030, 1, 1, 6), the_clock) == [utc(2030, 1, 1, 6)]


def test_fill_input_fills_every_placeholder() -> None:
    text = fill_input(
        scheduler_input_template(JobKey("t", "j"), 1, "tok"),
        scheduled_time=utc(2030, 1, 1),
        schedule_arn="arn",
    )
    assert "<aws." not in text
    assert json.loads(text)["scheduled_time"] == "2030-01-01T00:00:00Z"
    assert FireMessage.model_validate_json(text).fire_token == "tok"  # the local clock sends the token on
