"""The runtime's test clock: the wall clock plus an offset a file holds, off unless asked for.

`jobsched local --clock-file PATH` (or $JOBSCHED_LOCAL_CLOCK_FILE, which the runtime's worker processes
inherit) makes every process of the runtime read the wall clock plus the offset in PATH, a JSON object
`{"offset_seconds": 90}` (a missing file is offset 0). A test advances the runtime's time by replacing the
file (`write_offset`, atomically) instead of waiting for real time to pass: a fire an hour ahead is due at
once, a lease or a visibility timeout passes at once.

Each process patches its clock with time-machine (time.time, time_ns, datetime.now and utcnow, gmtime,
localtime, CLOCK_REALTIME; never time.monotonic, so sleeps, waits and timeouts keep real durations), so the
schedule clock, the executor, moto's SQS and every handler see the same shifted time. The runtime's process
watches the file from a thread and logs each offset it applies (a test waits for that line); a function's
worker process looks at the file before each invocation, so every invocation after a change sees it.
time-machine is a test dependency, imported only when a clock file is given.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from jobsched_local.durable_file import replace_durably

LOG = logging.getLogger(__name__)
CLOCK_FILE_ENV = "JOBSCHED_LOCAL_CLOCK_FILE"
WATCH_INTERVAL_SECONDS = 0.05
APPLIED_MESSAGE = "test clock: offset %s s applied"


class ClockFileError(ValueError):
    """The clock file cannot be read as {"offset_seconds": <number>}."""


def read_offset(path: Path) -> float:
    """The offset in seconds the file holds; 0 when there is no file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0.0
    try:
        data: Any = json.loads(raw)
    except ValueError as exc:
        raise ClockFileError(f"clock file {path}: not JSON ({exc})") from None
    value = data.get("offset_seconds") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClockFileError(f'clock file {path}: expected {{"offset_seconds": <number>}}, got {raw!r}')
    return float(value)


def write_offset(path: Path, seconds: float) -> None:
    """Replace the file with the offset: a reader sees the old offset or the new one, never a torn file."""
    replace_durably(path, json.dumps({"offset_seconds": seconds}), prefix=".clock-file-")


class ShiftedClock:
    """This process's clock, shifted by the file's offset from `start()` until `stop()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0
        self._seen: tuple[int, int] | None = None
        self._travel: Any = None
        self._traveller: Any = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ShiftedClock | None:
        """The clock $JOBSCHED_LOCAL_CLOCK_FILE names, or None (the real clock) when it is unset."""
        value = (os.environ if environ is None else environ).get(CLOCK_FILE_ENV)
        return cls(Path(value)) if value else None

    def start(self) -> None:
        import time_machine  # a test dependency: imported only when a clock file is given

        self.offset = read_offset(self.path)
        self._seen = self._stamp()
        self._travel = time_machine.travel(time.time() + self.offset, tick=True)
        self._traveller = self._travel.start()
        self._traveller.time_ns()  # time ticks on from here: the shift is exact from the first reading
        LOG.info(APPLIED_MESSAGE, _seconds(self.offset))

    def refresh(self) -> bool:
        """Apply the file's offset if the file changed since last seen; True when the offset changed."""
        with self._lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return False
            self._seen = stamp  # a file that cannot be read is reported once, not at every look
            offset = read_offset(self.path)
            if offset == self.offset:
                return False
            self._traveller.shift(offset - self.offset)
            self.offset = offset
        LOG.info(APPLIED_MESSAGE, _seconds(offset))
        return True

    def watch(self, interval: float = WATCH_INTERVAL_SECONDS) -> None:
        """Refresh from a daemon thread every `interval` seconds (real ones) until `stop()`."""

        def run() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.refresh()
                except (ClockFileError, OSError):
                    LOG.exception("test clock: cannot read %s; keeping offset %s s", self.path, self.offset)

        self._watcher = threading.Thread(target=run, name="test-clock", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        if self._travel is not None:
            self._travel.stop()
            self._travel = self._traveller = None

    def _stamp(self) -> tuple[int, int]:
        """What changes when the file is replaced: its inode and modification time (0, 0: no file)."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (status.st_ino, status.st_mtime_ns)


def _seconds(offset: float) -> str:
    return f"{offset:g}"
