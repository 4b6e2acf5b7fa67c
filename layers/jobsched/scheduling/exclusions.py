"""Exclusion dates: days (in the job's time zone) on which a schedule does not fire.

A list of dates (``"2026-12-25"``) and inclusive ranges (``{"from": "2026-12-24", "to": "2026-12-31"}``),
at most MAX_EXCLUSIONS entries. The preview (``next_runs``), a backfill and a resume's catch-up leave these
days out; the scheduler itself knows nothing of them, so the executor checks each scheduled fire and records
one on such a day as skipped (``excluded_date``). Finding the next fire jumps over a whole excluded range at
once, so even a long range costs one step, not one per fire inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_EXCLUSIONS = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ExclusionRange(BaseModel):
    """Every day from ``from`` to ``to``, both included."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")


Exclusion = date | ExclusionRange


def parse_exclusions(value: Any) -> list[date | ExclusionRange]:
    """The entries, checked; ValueError naming the entry that is not a date or a range of dates."""
    if not isinstance(value, list):
        raise ValueError("must be a list of dates and {from, to} ranges")
    if len(value) > MAX_EXCLUSIONS:
        raise ValueError(f"at most {MAX_EXCLUSIONS} entries")
    parsed: list[date | ExclusionRange] = []
    for index, entry in enumerate(value):
        if isinstance(entry, date | ExclusionRange):
            parsed.append(entry)
        elif isinstance(entry, str):
            parsed.append(_date(entry, f"entry {index}"))
        elif isinstance(entry, dict) and set(entry) == {"from", "to"}:
            start, end = _date(entry["from"], f"entry {index}.from"), _date(entry["to"], f"entry {index}.to")
            if end < start:
                raise ValueError(f"entry {index}: to is before from")
            parsed.append(ExclusionRange(start=start, end=end))
        else:
            raise ValueError(f'entry {index}: a date "YYYY-MM-DD" or {{"from": date, "to": date}} only')
    return parsed


def _date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value  # already parsed (a model dumped in Python mode)
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"{where}: a date is YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {value} is not a date of the calendar") from None


def excluded_until(
    exclusions: Sequence[date | ExclusionRange], instant: datetime, zone: tzinfo
) -> date | None:
    """The last day of the exclusion that holds ``instant``'s local date, or None if the day is not excluded.

    Overlapping entries chain: the answer is the end of the longest stretch starting at that day."""
    day = instant.astimezone(zone).date()
    last: date | None = None
    changed = True
    while changed:
        changed = False
        probe = day if last is None else last + timedelta(days=1)
        for entry in exclusions:
            start, end = (entry, entry) if isinstance(entry, date) else (entry.start, entry.end)
            if start <= probe <= end and (last is None or end > last):
                last, changed = end, True
    return last


def allowed_fires(
    times: Iterator[datetime] | None,
    restart: Any,
    exclusions: Sequence[date | ExclusionRange],
    zone: tzinfo,
) -> Iterator[datetime]:
    """The fires of ``times`` on days not excluded; ``restart(after)`` gives the fires after a UTC instant,
    used to jump past an excluded stretch in one step."""
    source = times if times is not None else restart(datetime.min.replace(tzinfo=UTC))
    while True:
        instant = next(source, None)
        if instant is None:
            return
        last = excluded_until(exclusions, instant, zone) if exclusions else None
        if last is None:
            yield instant
            continue
        if last >= date.max - timedelta(days=1):
            return
        # The first instant of the day after the stretch, in the zone (a skipped midnight moves forward).
        resume = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        source = restart(resume - timedelta(microseconds=1))
