"""The schedule clock's due-time rules on plain schedule documents and an injected time (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobsched.scheduling.catch_up import CatchUp
from jobsched_local.schedule_clock import DueFires, due_fires, fingerprint

ALL = CatchUp.model_validate({"policy": "all"})


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def schedule(expression: str, timezone: str = "UTC", **extra: object) -> dict[str, object]:
    return {
        "Name": "s",
        "ScheduleExpression": expression,
        "ScheduleExpressionTimezone": timezone,
        "CreationDate": utc(2027, 1, 1),
        **extra,
    }


def test_new_york_spring_forward_skips_the_missing_hour_and_fall_back_fires_once() -> None:
    daily = schedule("cron(30 2 * * ? *)", "America/New_York")
    # 2027-03-14: 02:30 does not exist in New York
    assert due_fires(daily, utc(2027, 3, 14, 5), utc(2027, 3, 14, 12)) == DueFires([], False)
    # 2027-11-07: 01:00-02:00 repeats; 01:30 fires once, at its first occurrence (EDT, 05:30 UTC)
    hourly = schedule("cron(30 1 * * ? *)", "America/New_York")
    assert due_fires(hourly, utc(2027, 11, 7, 5), utc(2027, 11, 7, 6, 29)) == DueFires(
        [utc(2027, 11, 7, 5, 30)], False
    )
    assert due_fires(hourly, utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 7)) == DueFires([], False)


def test_every_fire_of_the_last_hour_is_due_and_older_ones_are_skipped() -> None:
    rate = schedule("rate(15 minutes)", StartDate=utc(2030, 1, 1))
    assert due_fires(rate, utc(2030, 1, 1, 0, 20), utc(2030, 1, 1, 1, 10), catch_up=ALL) == DueFires(
        [utc(2030, 1, 1, 0, 30), utc(2030, 1, 1, 0, 45), utc(2030, 1, 1, 1)],
        False,
    )
    # Down for three hours: the fires of the last hour run, the earlier ones are named as skipped.
    assert due_fires(rate, utc(2030, 1, 1, 0, 20), utc(2030, 1, 1, 3, 20), catch_up=ALL) == DueFires(
        [utc(2030, 1, 1, 2, 30), utc(2030, 1, 1, 2, 45), utc(2030, 1, 1, 3), utc(2030, 1, 1, 3, 15)],
        False,
        skipped_from=utc(2030, 1, 1, 0, 30),
    )


def test_the_end_date_finishes_a_schedule() -> None:
    rate = schedule("rate(1 hour)", StartDate=utc(2030, 1, 1), EndDate=utc(2030, 1, 1, 5))
    assert due_fires(rate, utc(2030, 1, 1, 3, 30), utc(2030, 1, 1, 6)) == DueFires(
        [utc(2030, 1, 1, 5)], True, skipped_from=utc(2030, 1, 1, 4)
    )


def test_a_rate_counts_from_its_anchor_when_it_has_no_start_date() -> None:
    rate = schedule("rate(10 minutes)")
    anchored = due_fires(
        rate, utc(2030, 1, 1, 0, 0), utc(2030, 1, 1, 0, 30), anchor=utc(2030, 1, 1, 0, 3), catch_up=ALL
    )
    assert anchored.fires == [utc(2030, 1, 1, 0, 3), utc(2030, 1, 1, 0, 13), utc(2030, 1, 1, 0, 23)]


def test_at_in_its_time_zone_and_nothing_before_its_time() -> None:
    once = schedule("at(2030-03-31T03:30:00)", "Europe/Paris")  # CEST: 01:30 UTC
    assert due_fires(once, utc(2030, 3, 31), utc(2030, 3, 31, 1, 29, 59)) == DueFires([], False)
    assert due_fires(once, utc(2030, 3, 31), utc(2030, 3, 31, 1, 30)) == DueFires(
        [utc(2030, 3, 31, 1, 30)], True
    )
    # more than an hour late: skipped, and finished
    assert due_fires(once, utc(2030, 3, 31), utc(2030, 3, 31, 3)) == DueFires(
        [], True, skipped_from=utc(2030, 3, 31, 1, 30)
    )
    # 02:30 does not exist that night (spring forward): such an at() never fires, and is finished
    assert due_fires(
        schedule("at(2030-03-31T02:30:00)", "Europe/Paris"), utc(2030, 3, 31), utc(2030, 4, 1)
    ) == (DueFires([], True))


def test_the_fingerprint_follows_what_decides_the_fires() -> None:
    base = schedule("rate(1 hour)", State="ENABLED", Description="v1")
    assert fingerprint(base) == fingerprint(dict(base))
    assert fingerprint(base) != fingerprint({**base, "State": "DISABLED"})
    assert fingerprint(base) != fingerprint({**base, "ScheduleExpression": "rate(2 hours)"})
