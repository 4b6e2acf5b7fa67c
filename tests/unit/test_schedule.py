"""Schedule expressions: validation and fire-time preview with the DST rules EventBridge Scheduler uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from jobsched.scheduling.expressions import (
    ExpressionError,
    ScheduleKind,
    next_fire_times,
    parse_expression,
    parse_timezone,
    to_utc,
)

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("cron(0 18 ? * MON-FRI *)", ScheduleKind.CRON),
        ("cron(0 0 L * ? *)", ScheduleKind.CRON),
        ("cron(0 0 15W * ? *)", ScheduleKind.CRON),
        ("cron(0 10 ? * 6#3 *)", ScheduleKind.CRON),
        ("rate(1 minute)", ScheduleKind.RATE),
        ("rate(5 minutes)", ScheduleKind.RATE),
        ("rate(2 hours)", ScheduleKind.RATE),
        ("rate(1 day)", ScheduleKind.RATE),
        ("at(2030-12-01T10:00:00)", ScheduleKind.AT),
    ],
)
def test_valid_expressions_parse(text: str, kind: ScheduleKind) -> None:
    assert parse_expression(text).kind is kind


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("cron(bogus)", "6 required"),
        ("cron(0 25 * * ? *)", "hour"),
        ("cron(0 0 * * * *)", "question mark"),
        ("cron(0 0 1 * ? * *)", "6 required"),
        ("rate(0 minutes)", "at least 1 minute"),
        ("rate(30 seconds)", "shortest rate is 1 minute"),
        ("rate(-1 minutes)", "shortest rate is 1 minute"),
        ("at(2030-02-30T10:00:00)", "no valid date"),
        ("at(2030-12-01 10:00)", "expression must be"),
        ("every day", "expression must be"),
        ("", "expression must be"),
    ],
)
def test_invalid_expressions_say_why(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        parse_expression(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rate(1 minutes)", r"singular unit: rate\(1 minute\)"),
        ("rate(1 hours)", r"singular unit: rate\(1 hour\)"),
        ("rate(1 days)", r"singular unit: rate\(1 day\)"),
        ("rate(5 minute)", r"plural unit: rate\(5 minutes\)"),
        ("rate(2 hour)", r"plural unit: rate\(2 hours\)"),
        ("rate(7 day)", r"plural unit: rate\(7 days\)"),
    ],
)
def test_rate_units_are_singular_for_one_and_plural_above_as_in_aws(text: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        parse_expression(text)


def test_a_stored_rate_from_before_the_unit_rule_still_parses() -> None:
    # A job stored before the rule must still load (to be read, replaced or deleted).
    assert parse_expression("rate(5 minute)", stored=True).rate == timedelta(minutes=5)
    assert parse_expression("rate(1 hours)", stored=True).rate == timedelta(hours=1)


def test_a_parsed_expression_carries_its_fields_and_text() -> None:
    rate = parse_expression("rate(2 hours)")
    assert (rate.kind, rate.rate, str(rate)) == (ScheduleKind.RATE, timedelta(hours=2), "rate(2 hours)")
    cron = parse_expression("cron(0 18 ? * MON-FRI *)")
    assert (cron.kind, cron.cron_fields) == (ScheduleKind.CRON, "0 18 ? * MON-FRI *")
    at = parse_expression("at(2030-12-01T10:00:00)")
    assert (at.kind, at.at_wall_time) == (ScheduleKind.AT, datetime(2030, 12, 1, 10))


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ExpressionError, match="unknown time zone"):
        parse_timezone("Mars/Olympus_Mons")
    assert parse_timezone("Asia/Tokyo").key == "Asia/Tokyo"


def test_weekday_evening_in_tokyo_is_nine_utc_on_weekdays() -> None:
    fires = next_fire_times(
        parse_expression("cron(0 18 ? * MON-FRI *)"),
        ZoneInfo("Asia/Tokyo"),
        utc(2026, 11, 27, 12),
        5,
        anchor=ANCHOR,
    )
    assert fires == [
        utc(2026, 11, 30, 9),
        utc(2026, 12, 1, 9),
        utc(2026, 12, 2, 9),
        utc(2026, 12, 3, 9),
        utc(2026, 12, 4, 9),
    ]
    assert all(f.weekday() < 5 for f in fires)


def test_spring_forward_skips_the_missing_wall_time() -> None:
    # 2026-03-08 02:30 does not exist in New York: that day has no fire.
    fires = next_fire_times(
        parse_expression("cron(30 2 * * ? *)"), NEW_YORK, utc(2026, 3, 7, 0), 3, anchor=ANCHOR
    )
    assert fires == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30), utc(2026, 3, 10, 6, 30)]


def test_fall_back_fires_a_repeated_wall_time_once() -> None:
    # 2026-11-01 01:30 happens twice in New York; it fires at the first (EDT, 05:30 UTC) only.
    fires = next_fire_times(
        parse_expression("cron(30 1 * * ? *)"), NEW_YORK, utc(2026, 10, 31, 12), 3, anchor=ANCHOR
    )
    assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]


def test_fall_back_does_not_repeat_fires_of_the_repeated_hour() -> None:
    fires = next_fire_times(
        parse_expression("cron(*/30 1 * * ? *)"), NEW_YORK, utc(2026, 11, 1, 5), 3, anchor=ANCHOR
    )
    assert fires == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 0), utc(2026, 11, 2, 6, 30)]


def test_rate_days_are_fixed_24_hour_durations_across_dst() -> None:
    fires = next_fire_times(
        parse_expression("rate(1 day)"), NEW_YORK, utc(2026, 10, 31, 13), 3, anchor=utc(2026, 10, 30, 12)
    )
    assert fires == [utc(2026, 11, 1, 12), utc(2026, 11, 2, 12), utc(2026, 11, 3, 12)]


def test_rate_counts_from_start_at_when_given() -> None:
    fires = next_fire_times(
        parse_expression("rate(15 minutes)"),
        ZoneInfo("UTC"),
        utc(2026, 1, 1),
        2,
        anchor=ANCHOR,
        start_at=utc(2026, 6, 1, 10, 5),
    )
    assert fires == [utc(2026, 6, 1, 10, 5), utc(2026, 6, 1, 10, 20)]


def test_at_fires_once_in_its_time_zone() -> None:
    expression = parse_expression("at(2030-12-01T10:00:00)")
    assert next_fire_times(expression, ZoneInfo("Asia/Kolkata"), utc(2026, 1, 1), 5, anchor=ANCHOR) == [
        utc(2030, 12, 1, 4, 30)
    ]
    assert next_fire_times(expression, ZoneInfo("UTC"), utc(2031, 1, 1), 5, anchor=ANCHOR) == []


def test_end_at_stops_the_preview() -> None:
    fires = next_fire_times(
        parse_expression("rate(1 hour)"),
        ZoneInfo("UTC"),
        utc(2026, 1, 1),
        5,
        anchor=utc(2026, 1, 1),
        end_at=utc(2026, 1, 1, 2, 30),
    )
    assert fires == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]


def test_cron_with_a_past_year_has_no_fires() -> None:
    assert (
        next_fire_times(
            parse_expression("cron(0 0 1 1 ? 2020)"), ZoneInfo("UTC"), utc(2026, 1, 1), 3, anchor=ANCHOR
        )
        == []
    )


def test_last_day_of_month_and_nth_weekday() -> None:
    last = next_fire_times(
        parse_expression("cron(0 0 L * ? *)"), ZoneInfo("UTC"), utc(2026, 1, 1), 2, anchor=ANCHOR
    )
    assert last == [utc(2026, 1, 31), utc(2026, 2, 28)]
    third_friday = next_fire_times(
        parse_expression("cron(0 10 ? * 6#3 *)"), ZoneInfo("UTC"), utc(2026, 1, 1), 1, anchor=ANCHOR
    )
    assert third_friday == [utc(2026, 1, 16, 10)]
    assert third_friday[0] - timedelta(days=14) == utc(2026, 1, 2, 10)


def test_wall_times_at_the_calendars_edges_are_no_instant_rather_than_an_overflow() -> None:
    assert to_utc(datetime(9999, 12, 31, 23, 59, 59), ZoneInfo("America/New_York")) is None
    assert to_utc(datetime(1, 1, 1, 0, 0), ZoneInfo("Asia/Tokyo")) is None  # east of UTC: year 0
    at_the_end = parse_expression("at(9999-12-31T23:59:59)")
    assert (
        next_fire_times(at_the_end, ZoneInfo("America/New_York"), utc(2026, 1, 1), 5, anchor=utc(2026, 1, 1))
        == []
    )


def test_a_rate_stops_at_the_year_9999_instead_of_overflowing() -> None:
    huge = parse_expression("rate(999999999 days)")
    anchor = utc(2026, 1, 1)
    assert next_fire_times(huge, ZoneInfo("UTC"), anchor, 5, anchor=anchor) == []


@pytest.mark.parametrize("expression", ["cron(0 0 31 2 ? *)", "cron(0 0 1 1 ? 2020)", "cron(0 0 30 2 ? *)"])
def test_a_cron_with_no_fire_left_yields_none(expression: str) -> None:
    now = utc(2026, 11, 27)
    assert next_fire_times(parse_expression(expression), ZoneInfo("UTC"), now, 1, anchor=now) == []
