"""The runtime's test clock: the wall clock plus a file's offset, applied as the file changes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobsched_local.shifted_clock import (
    CLOCK_FILE_ENV,
    ClockFileError,
    ShiftedClock,
    read_offset,
    write_offset,
)

HOUR = 3600.0
ROUNDING = 0.001  # seconds: far below the offsets, far above float rounding of a time stamp


@pytest.fixture
def clock_file(tmp_path: Path) -> Path:
    return tmp_path / "clock.json"


@pytest.fixture
def started(clock_file: Path) -> Iterator[ShiftedClock]:
    write_offset(clock_file, HOUR)
    clock = ShiftedClock(clock_file)
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


def test_a_missing_file_is_no_offset(clock_file: Path) -> None:
    assert read_offset(clock_file) == 0.0


def test_the_offset_written_is_the_offset_read(clock_file: Path) -> None:
    write_offset(clock_file, 90)
    assert json.loads(clock_file.read_text()) == {"offset_seconds": 90}
    write_offset(clock_file, 5490.5)
    assert read_offset(clock_file) == 5490.5
    assert [p.name for p in clock_file.parent.iterdir()] == ["clock.json"]  # no temporary file left


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[90]",
        "{}",
        '{"offset_seconds": "90"}',
        '{"offset_seconds": true}',
        '{"offset_seconds": NaN}',
    ],
)
def test_a_file_without_a_numeric_offset_is_refused_naming_it(clock_file: Path, content: str) -> None:
    clock_file.write_text(content)
    with pytest.raises(ClockFileError, match="clock file"):
        read_offset(clock_file)


@dataclass(frozen=True)
class Shifted:
    """The clocks read while the test clock runs."""

    time: float
    datetime_now: float
    monotonic: float


@dataclass(frozen=True)
class Reading:
    real_before: float
    shifted: Shifted
    real_after: float
    clock: ShiftedClock

    def within(self, offset: float, value: float) -> bool:
        """The shifted value lies between the real readings moved by the offset: the clock is the wall
        clock plus the offset (ROUNDING covers the float conversions of the travel's destination)."""
        return self.real_before + offset - ROUNDING <= value <= self.real_after + offset + ROUNDING


def shifted_reading(clock_file: Path, change: Callable[[ShiftedClock], None] | None = None) -> Reading:
    """Start a clock on the file (offset HOUR), apply `change`, read the shifted clocks, stop; with the real
    time read just before the start and just after the stop, so the shifted readings can be bracketed."""
    write_offset(clock_file, HOUR)
    clock = ShiftedClock(clock_file)
    real_before = time.time()
    clock.start()
    try:
        if change is not None:
            change(clock)
        shifted = Shifted(time.time(), datetime.now(UTC).timestamp(), time.monotonic())
    finally:
        clock.stop()
    return Reading(real_before, shifted, time.time(), clock)


def test_the_clock_is_the_wall_clock_plus_the_offset(clock_file: Path) -> None:
    reading = shifted_reading(clock_file)

    assert reading.clock.offset == HOUR
    assert reading.within(HOUR, reading.shifted.time)
    assert reading.within(HOUR, reading.shifted.datetime_now)


def test_monotonic_time_is_not_shifted(clock_file: Path) -> None:
    before = time.monotonic()
    reading = shifted_reading(clock_file)

    # Sleeps, timeouts and long polls keep their length: the monotonic clock never jumps by the offset.
    assert before <= reading.shifted.monotonic <= time.monotonic()


def test_a_changed_file_shifts_the_clock_by_the_difference(clock_file: Path) -> None:
    changed: list[bool] = []

    def rewrite(clock: ShiftedClock) -> None:
        write_offset(clock_file, 3 * HOUR)
        changed.append(clock.refresh())
        changed.append(clock.refresh())  # unchanged since: nothing to do

    reading = shifted_reading(clock_file, rewrite)

    assert changed == [True, False]
    assert reading.clock.offset == 3 * HOUR
    assert reading.within(3 * HOUR, reading.shifted.time)


def test_a_rewrite_with_the_same_offset_changes_nothing(clock_file: Path) -> None:
    changed: list[bool] = []

    def rewrite(clock: ShiftedClock) -> None:
        write_offset(clock_file, HOUR)
        changed.append(clock.refresh())

    reading = shifted_reading(clock_file, rewrite)

    assert changed == [False]
    assert reading.within(HOUR, reading.shifted.time)


def test_the_watcher_applies_a_change_without_being_asked(started: ShiftedClock, clock_file: Path) -> None:
    started.watch(interval=0.01)
    write_offset(clock_file, 2 * HOUR)
    deadline = time.monotonic() + 30  # a bound on the watcher thread's turn, not an assertion on speed
    while started.offset != 2 * HOUR and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.offset == 2 * HOUR


def test_the_environment_names_the_clock_file(clock_file: Path) -> None:
    assert ShiftedClock.from_env({}) is None
    clock = ShiftedClock.from_env({CLOCK_FILE_ENV: str(clock_file)})
    assert clock is not None and clock.path == clock_file


def test_a_bad_file_is_refused_once_and_the_offset_kept(started: ShiftedClock, clock_file: Path) -> None:
    clock_file.write_text("garbage")
    with pytest.raises(ClockFileError):
        started.refresh()
    assert started.refresh() is False  # the same bad file: already reported
    assert started.offset == HOUR
    write_offset(clock_file, 2 * HOUR)
    assert started.refresh() is True and started.offset == 2 * HOUR
