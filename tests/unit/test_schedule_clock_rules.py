"""The schedule clock's due-time rules on plain schedule documents and an injected time (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

from jobsched_local.schedule_clock import fingerprint, latest_due


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
    assert latest_due(daily, utc(2027, 3, 13, 8), utc(2027, 3, 14, 12)) == (None, False)
    # 2027-11-07: 01:00-02:00 repeats, 02:30 exists once (EST, 07:30 UTC)
    hourly = schedule("cron(30 1 * * ? *)", "America/New_York")
    assert latest_due(hourly, utc(2027, 11, 7, 4), utc(2027, 11, 7, 7)) == (utc(2027, 11, 7, 5, 30), False)
    assert latest_due(hourly, utc(2027, 11, 7, 5, 30), utc(2027, 11, 7, 7)) == (None, False)


def test_only_the_latest_missed_fire_is_due_and_the_end_date_finishes_it() -> None:
    rate = schedule("rate(1 hour)", StartDate=utc(2030, 1, 1), EndDate=utc(2030, 1, 1, 5))
    assert latest_due(rate, utc(2030, 1, 1, 0, 30), utc(2030, 1, 1, 3, 15)) == (utc(2030, 1, 1, 3), False)
    assert latest_due(rate, utc(2030, 1, 1, 3), utc(2030, 1, 1, 6)) == (utc(2030, 1, 1, 5), True)


def test_at_in_its_time_zone_and_nothing_before_its_time() -> None:
    once = schedule("at(2030-03-31T03:30:00)", "Europe/Paris")  # CEST: 01:30 UTC
    assert latest_due(once, utc(2030, 3, 1), utc(2030, 3, 31, 1, 29, 59)) == (None, False)
    assert latest_due(once, utc(2030, 3, 1), utc(2030, 3, 31, 1, 30)) == (utc(2030, 3, 31, 1, 30), True)
    # 02:30 does not exist that night (spring forward): such an at() never fires, and is finished
    assert latest_due(
        schedule("at(2030-03-31T02:30:00)", "Europe/Paris"), utc(2030, 3, 1), utc(2030, 4, 1)
    ) == (
        None,
        True,
    )


def test_the_fingerprint_follows_what_decides_the_fires() -> None:
    base = schedule("rate(1 hour)", State="ENABLED", Description="v1")
    assert fingerprint(base) == fingerprint(dict(base))
    assert fingerprint(base) != fingerprint({**base, "State": "DISABLED"})
    assert fingerprint(base) != fingerprint({**base, "ScheduleExpression": "rate(2 hours)"})
