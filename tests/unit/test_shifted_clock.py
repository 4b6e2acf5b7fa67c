"""The runtime's test clock: the wall clock plus a file's offset, applied as the file changes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
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


def test_the_clock_is_the_wall_clock_plus_the_offset_and_monotonic_stays_real(started: ShiftedClock) -> None:
    assert started.offset == HOUR
    shifted = time.time() - time.monotonic()
    started.stop()
    real = time.time() - time.monotonic()
    assert round(shifted - real) == HOUR


def test_datetime_now_is_shifted_too(started: ShiftedClock) -> None:
    shifted = datetime.now(UTC).timestamp() - time.monotonic()
    started.stop()
    real = datetime.now(UTC).timestamp() - time.monotonic()
    assert round(shifted - real) == HOUR


def test_a_changed_file_shifts_the_clock_by_the_difference(started: ShiftedClock, clock_file: Path) -> None:
    before = time.time() - time.monotonic()
    write_offset(clock_file, 3 * HOUR)
    assert started.refresh() is True
    assert started.offset == 3 * HOUR
    assert round(time.time() - time.monotonic() - before) == 2 * HOUR
    assert started.refresh() is False  # unchanged file: nothing to do


def test_a_rewrite_with_the_same_offset_changes_nothing(started: ShiftedClock, clock_file: Path) -> None:
    before = time.time() - time.monotonic()
    write_offset(clock_file, HOUR)
    assert started.refresh() is False
    assert round(time.time() - time.monotonic() - before) == 0


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
