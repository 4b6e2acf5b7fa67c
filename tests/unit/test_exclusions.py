"""Exclusion dates: validation, the preview that leaves them out, and the executor's skip (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from jobsched.execution.executor import Result
from jobsched.execution.fire import Trigger
from jobsched.execution.models import SkipReason
from jobsched.jobs.models import Job, JobSpec, Schedule
from tests.unit.test_catch_up import job, process

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(expression: str = "cron(0 9 * * ? *)", **extra: Any) -> Schedule:
    return Schedule.model_validate({"expression": expression, **extra})


def test_exclusions_round_trip_as_sent() -> None:
    entries = ["2026-12-25", {"from": "2026-12-28", "to": "2027-01-03"}]
    assert schedule(exclusions=entries).model_dump(mode="json")["exclusions"] == entries
    spec = JobSpec.model_validate(
        {
            "name": "n",
            "schedule": {"expression": "rate(1 day)", "exclusions": entries},
            "target": {"url": "https://a.example.com"},
        }
    )
    again = Job.model_validate(
        {
            **spec.model_dump(),
            "job_id": "job_a",
            "region": "us-east-1",
            "version": 1,
            "created_at": ANCHOR,
            "updated_at": ANCHOR,
            "created_by": "k",
            "updated_by": "k",
            "status": "active",
        }
    )
    assert again.schedule.exclusions == spec.schedule.exclusions


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        (["2026-13-01"], "not a date of the calendar"),
        (["26-12-01"], "YYYY-MM-DD"),
        ([{"from": "2026-12-02", "to": "2026-12-01"}], "to is before from"),
        ([{"from": "2026-12-02"}], "only"),
        ([{"from": "2026-12-01", "to": "2026-12-02", "every": "year"}], "only"),
        ([20261225], "only"),
        ("2026-12-25", "must be a list"),
        (["2026-12-25"] * 101, "at most 100"),
    ],
)
def test_invalid_exclusions_are_refused_naming_the_field(entries: Any, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate(
            {
                "name": "n",
                "schedule": {"expression": "rate(1 day)", "exclusions": entries},
                "target": {"url": "https://a.example.com"},
            }
        )
    [error] = caught.value.errors()
    assert error["loc"] == ("schedule", "exclusions") and why in error["msg"]


def test_the_preview_leaves_excluded_days_out_in_the_jobs_time_zone() -> None:
    tokyo = schedule(
        timezone="Asia/Tokyo", exclusions=["2026-12-25", {"from": "2026-12-28", "to": "2027-01-03"}]
    )
    runs = tokyo.preview(after=datetime(2026, 12, 23, tzinfo=UTC), anchor=ANCHOR)
    # 09:00 in Tokyo is 00:00 UTC of the same day
    assert [r.date().isoformat() for r in runs] == [
        "2026-12-24",
        "2026-12-26",
        "2026-12-27",
        "2027-01-04",
        "2027-01-05",
    ]
    assert tokyo.excludes(datetime(2026, 12, 24, 15, 30, tzinfo=UTC))  # 00:30 on the 25th in Tokyo
    assert not tokyo.excludes(datetime(2026, 12, 24, 14, 30, tzinfo=UTC))


def test_a_long_range_over_a_frequent_schedule_is_jumped_in_one_step() -> None:
    every_minute = schedule(
        "rate(1 minute)", exclusions=[{"from": "2026-01-01", "to": "2026-12-31"}, "2027-01-01"]
    )
    assert every_minute.preview(after=ANCHOR, anchor=ANCHOR, count=2) == [
        datetime(2027, 1, 2, 0, 0, tzinfo=UTC),
        datetime(2027, 1, 2, 0, 1, tzinfo=UTC),
    ]


def test_a_schedule_excluded_for_good_has_no_fire_left() -> None:
    once = schedule("at(2030-12-25T10:00:00)", exclusions=["2030-12-25"])
    assert once.first_fire_problem(datetime(2026, 12, 1, tzinfo=UTC)) == (
        "schedule.expression",
        "at(2030-12-25T10:00:00) has no fire time after now",
    )


def test_the_executor_records_a_fire_on_an_excluded_day_as_skipped_but_runs_a_manual_one() -> None:
    today = datetime(2026, 12, 1, 11, 50, tzinfo=UTC)
    excluded = job(exclusions=["2026-12-01"])
    result, store, target = process(excluded, today)
    assert (result, target.calls) == (Result.SKIPPED, [])
    assert store.finished[0][2] is SkipReason.EXCLUDED_DATE
    assert process(excluded, today, trigger=Trigger.MANUAL, execution_id="exe_m")[0] is Result.SUCCEEDED
