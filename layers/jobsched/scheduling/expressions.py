"""Schedule expressions in EventBridge Scheduler syntax: parse, validate up front, preview fire times.

Validating here gives callers a 4xx at once instead of an asynchronous error from the scheduler.
aws-croniter validates and steps AWS cron expressions (6 fields, ``? L W #``); it works on UTC-labelled
datetimes, so it is used as a wall-clock calculator and the time zone is applied here with the rules
EventBridge Scheduler follows:

- cron: evaluated in the schedule's time zone. A wall-clock time skipped by a spring-forward change
  does not fire; a wall-clock time repeated by a fall-back change fires once (its first occurrence).
- rate: a fixed duration counted from the start (``rate(1 day)`` is 24 hours, whatever DST does). As in
  AWS, the unit is singular for 1 (``rate(1 hour)``) and plural above (``rate(5 hours)``).
- at: one wall-clock time in the time zone.

An expression is parsed once, where it enters (the job model of a request or of a stored item), into an
``Expression``; everything downstream (preview, schedule-sync, the Scheduler adapter) takes that value, and
its ``text`` is what is stored and sent to the scheduler.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_CRON = re.compile(r"^cron\((?P<body>[^()]*)\)$")
_RATE = re.compile(r"^rate\((?P<value>\d{1,9}) (?P<unit>minutes?|hours?|days?)\)$")
_AT = re.compile(r"^at\((?P<when>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# Far enough to find the next five fires of any sensible cron, short enough to bound the work.
_CRON_SEARCH_LIMIT = 10_000


class ScheduleKind(StrEnum):
    CRON = "cron"
    RATE = "rate"
    AT = "at"


class ExpressionError(ValueError):
    """The expression is not valid EventBridge Scheduler syntax; the message says why."""


@dataclass(frozen=True)
class Expression:
    """A parsed schedule expression: its kind, the fields of that kind, and the text it was parsed from."""

    kind: ScheduleKind
    text: str
    cron_fields: str | None = None
    rate: timedelta | None = None
    at_wall_time: datetime | None = None  # naive: a wall-clock time in the schedule's time zone

    def __str__(self) -> str:
        return self.text


# Cached: every stored job read parses its expression, and a tenant's jobs share a few of them.
@lru_cache(maxsize=1024)
def parse_expression(text: str, *, stored: bool = False) -> Expression:
    """``stored``: the expression of a stored job, which may predate the singular/plural unit rule and
    must still load (so the job can be read, replaced or deleted); a new one must follow the rule."""
    text = text.strip()
    if match := _CRON.fullmatch(text):
        return Expression(ScheduleKind.CRON, text, cron_fields=_validate_cron(match["body"].strip()))
    if match := _RATE.fullmatch(text):
        value, unit = int(match["value"]), match["unit"]
        if value < 1:
            raise ExpressionError("rate must be at least 1 minute")
        if not stored:
            _check_unit_number(value, unit)
        seconds = value * _UNIT_SECONDS[unit.rstrip("s")]
        return Expression(ScheduleKind.RATE, text, rate=timedelta(seconds=seconds))
    if match := _AT.fullmatch(text):
        try:
            when = datetime.fromisoformat(match["when"])
        except ValueError as exc:
            raise ExpressionError(f"at() holds no valid date and time: {exc}") from None
        return Expression(ScheduleKind.AT, text, at_wall_time=when)
    if text.startswith("rate("):
        raise ExpressionError(
            "rate must be rate(1 <minute|hour|day>) or rate(<n> <minutes|hours|days>) with n > 1; "
            "the shortest rate is 1 minute"
        )
    raise ExpressionError("expression must be cron(<6 fields>), rate(<n> <unit>) or at(YYYY-MM-DDThh:mm:ss)")


def _check_unit_number(value: int, unit: str) -> None:
    """EventBridge Scheduler's rule: a singular unit for 1, a plural one above (``rate(5 minute)`` fails)."""
    singular = unit.rstrip("s")
    if value == 1 and unit != singular:
        raise ExpressionError(f"a rate of 1 takes a singular unit: rate(1 {singular})")
    if value > 1 and unit == singular:
        raise ExpressionError(f"a rate above 1 takes a plural unit: rate({value} {singular}s)")


def _validate_cron(fields: str) -> str:
    from aws_croniter import AwsCroniter  # imported where used: keeps cold starts of other paths lean

    try:
        AwsCroniter(fields)
    except Exception as exc:  # aws-croniter raises several exception types, all meaning "invalid"
        raise ExpressionError(f"invalid cron expression: {exc}") from None
    return fields


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_timezone(name: str) -> ZoneInfo:
    if name not in _known_zones():
        raise ExpressionError(f"unknown time zone '{name}'; use an IANA name such as 'Europe/Paris'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"unknown time zone '{name}'") from None


def to_utc(wall: datetime, zone: tzinfo) -> datetime | None:
    """A naive wall-clock time in ``zone`` as UTC; None when DST skips that wall-clock time.

    Also None when the instant falls outside datetime's years 1 to 9999 (a wall time at either end of
    that range in a zone far from UTC): no schedule can fire there.
    """
    try:
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if first.astimezone(zone).replace(tzinfo=None) != wall:
            return None
    except OverflowError:
        return None
    return first


def at_time_utc(expression: Expression, zone: tzinfo) -> datetime:
    """The instant an ``at()`` expression fires; an error when that wall time does not exist there."""
    assert expression.at_wall_time is not None
    instant = to_utc(expression.at_wall_time, zone)
    if instant is None:
        raise ExpressionError(
            f"{expression.text} does not exist in this time zone (skipped by a DST change, or out of range)"
        )
    return instant


def fire_times(
    expression: Expression,
    zone: tzinfo,
    after: datetime,
    *,
    anchor: datetime,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Iterator[datetime]:
    """Fire times (aware, UTC) strictly after ``after``, in order, within [start_at, end_at].

    ``anchor`` is where a rate schedule without a start date counts from (when it was created).
    """
    floor = max(after, start_at - timedelta(microseconds=1)) if start_at else after
    if expression.kind is ScheduleKind.AT:
        assert expression.at_wall_time is not None
        instant = to_utc(expression.at_wall_time, zone)  # None: never fires (refused at create)
        times: Iterator[datetime] = iter([instant] if instant is not None else [])
    elif expression.kind is ScheduleKind.RATE:
        assert expression.rate is not None
        times = _rate_times(expression.rate, start_at or anchor, floor)
    else:
        assert expression.cron_fields is not None
        times = _cron_times(expression.cron_fields, zone, floor)
    for instant in times:
        if instant <= floor:
            continue
        if end_at is not None and instant > end_at:
            return
        yield instant


def next_fire_times(
    expression: Expression,
    zone: tzinfo,
    after: datetime,
    count: int,
    *,
    anchor: datetime,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> list[datetime]:
    found: list[datetime] = []
    for instant in fire_times(expression, zone, after, anchor=anchor, start_at=start_at, end_at=end_at):
        found.append(instant)
        if len(found) == count:
            break
    return found


def _rate_times(interval: timedelta, origin: datetime, floor: datetime) -> Iterator[datetime]:
    steps = 0 if floor < origin else (floor - origin) // interval + 1
    while True:
        try:
            yield origin + steps * interval
        except OverflowError:  # past the year 9999: no more fires
            return
        steps += 1


def _cron_times(fields: str, zone: tzinfo, floor: datetime) -> Iterator[datetime]:
    from aws_croniter import AwsCroniter

    cron = AwsCroniter(fields)
    # Step through wall-clock times (labelled UTC for aws-croniter), starting an hour before the floor's
    # wall time so that a repeated (fall-back) hour is not missed; earlier instants are filtered out.
    try:
        cursor = floor.astimezone(zone).replace(tzinfo=UTC) - timedelta(hours=1)
    except OverflowError:
        return
    for _ in range(_CRON_SEARCH_LIMIT):
        try:
            nxt = cron.get_next(cursor, n=1)[0]
        except (OverflowError, ValueError):  # aws-croniter stepping past the last representable year
            return
        if nxt is None:
            return
        cursor = nxt
        instant = to_utc(nxt.replace(tzinfo=None), zone)
        if instant is not None and instant > floor:
            yield instant
