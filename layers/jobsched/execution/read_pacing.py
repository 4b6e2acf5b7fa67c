"""A read rate limit for long table scans: a token bucket filled with read units, spent by what DynamoDB
reports each page consumed (ReturnConsumedCapacity=TOTAL).

The archiver scans its table in many small segments at a bounded rate, so that the table's provisioned read
capacity (auto scaled, jobsched.tables.EXECUTIONS_CAPACITY) carries the scan beside the API's reads
(docs/decisions.md, Cost). A page's cost is known only after it is read, so the bucket may go into debt by
one page; the scan then sleeps until the debt is paid. A throttled page is retried after a growing pause.
The clock and the sleep are injected: tests run it without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A throttled read waits this long, doubled at each throttle in a row up to the cap; a read throttled
# MAX_THROTTLED_RETRIES times in a row gives up (the segment's message comes back later from its queue).
THROTTLE_PAUSE_SECONDS = 1.0
THROTTLE_PAUSE_CAP_SECONDS = 30.0
MAX_THROTTLED_RETRIES = 10


class ReadPacer:
    """Read units at `units_per_second` on average; up to `burst_seconds` of them unspent are kept."""

    def __init__(
        self,
        units_per_second: float,
        *,
        burst_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if units_per_second <= 0 or burst_seconds <= 0:
            raise ValueError("a read rate and its burst must be positive")
        self.units_per_second = units_per_second
        self._burst = units_per_second * burst_seconds
        self._clock = clock
        self._sleep = sleep
        self._tokens = self._burst
        self._last = clock()
        self._throttled = 0
        self.consumed_units = 0.0
        self.slept_seconds = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self.units_per_second)
        self._last = now

    def _pause(self, seconds: float) -> None:
        self._sleep(seconds)
        self.slept_seconds += seconds

    def consumed(self, units: float) -> None:
        """A read consumed `units`: spend them, and sleep until the bucket is out of debt."""
        self._throttled = 0
        self.consumed_units += units
        self._refill()
        self._tokens -= units
        if self._tokens < 0:
            self._pause(-self._tokens / self.units_per_second)
            self._refill()

    def throttled(self) -> None:
        """A read was refused for want of capacity: pause before it is retried (1 s, 2 s, 4 s ... 30 s).
        Raises RuntimeError when reads have been throttled MAX_THROTTLED_RETRIES times in a row."""
        self._throttled += 1
        if self._throttled > MAX_THROTTLED_RETRIES:
            raise RuntimeError(f"reads throttled {MAX_THROTTLED_RETRIES} times in a row")
        self._pause(min(THROTTLE_PAUSE_CAP_SECONDS, THROTTLE_PAUSE_SECONDS * 2 ** (self._throttled - 1)))
        self._refill()
