"""Throttling as API Gateway does it: token buckets (steady rate + burst) and daily quotas per API key.

Every limiter takes an injectable clock (seconds since the epoch) so tests drive time instead of sleeping.
Counters live in memory only: per-key quotas and buckets start afresh when the runtime restarts, which is
more lenient than API Gateway (its quota counters survive deployments) and acceptable for a laptop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

Clock = Callable[[], float]
SECONDS_PER_DAY = 86_400


class Verdict(StrEnum):
    ALLOWED = "allowed"
    THROTTLED = "throttled"  # token bucket empty: 429 Too Many Requests
    QUOTA_EXCEEDED = "quota_exceeded"  # daily quota used up: 429 Limit Exceeded


class TokenBucket:
    """Holds up to `burst` tokens, refilled at `rate` per second; each request takes one."""

    def __init__(self, rate: float, burst: int, clock: Clock = time.time) -> None:
        self._rate = rate
        # A bucket smaller than one token would refuse everything; API Gateway always lets one through.
        self._capacity = max(float(burst), 1.0)
        self._tokens = self._capacity
        self._clock = clock
        self._updated = clock()
        self._lock = threading.Lock()

    def try_take(self) -> bool:
        with self._lock:
            now = self._clock()
            # max(0, ...): a wall clock stepping backwards must not drain the bucket.
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
            self._updated = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class DailyQuota:
    """At most `limit` requests per UTC day (API Gateway's DAY period with offset 0)."""

    def __init__(self, limit: int, clock: Clock = time.time) -> None:
        self._limit = limit
        self._clock = clock
        self._day = -1
        self._used = 0
        self._lock = threading.Lock()

    def try_use(self) -> bool:
        with self._lock:
            day = int(self._clock() // SECONDS_PER_DAY)
            if day != self._day:
                self._day, self._used = day, 0
            if self._used >= self._limit:
                return False
            self._used += 1
            return True


@dataclass(frozen=True)
class PlanLimits:
    """What a usage plan says about one key: throttle and optional daily quota."""

    rate: float
    burst: int
    daily_quota: int | None


class KeyLimiter:
    """One bucket and one quota per API key, created on the key's first request."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._quotas: dict[str, DailyQuota] = {}
        self._lock = threading.Lock()

    def check(self, key: str, limits: PlanLimits) -> Verdict:
        bucket, quota = self._limiters(key, limits)
        # Throttling comes first, so a throttled request does not count against the quota.
        if not bucket.try_take():
            return Verdict.THROTTLED
        if quota is not None and not quota.try_use():
            return Verdict.QUOTA_EXCEEDED
        return Verdict.ALLOWED

    def _limiters(self, key: str, limits: PlanLimits) -> tuple[TokenBucket, DailyQuota | None]:
        # The plan is part of the name: a key moved to another tier starts with that tier's bucket.
        name = f"{key}|{limits.rate}|{limits.burst}|{limits.daily_quota}"
        with self._lock:
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = TokenBucket(limits.rate, limits.burst, self._clock)
            quota = self._quotas.get(name)
            if quota is None and limits.daily_quota is not None:
                quota = self._quotas[name] = DailyQuota(limits.daily_quota, self._clock)
            return bucket, quota


class SourceLimiter:
    """One token bucket per client IP address: the edge's per-IP limit, which WAF applies before the API.

    Buckets of addresses that have been quiet long enough to be full again are dropped once more than
    `max_tracked` addresses are known, so a flood of distinct addresses cannot grow memory without bound.
    """

    def __init__(self, rate: float, burst: int, clock: Clock = time.time, max_tracked: int = 10_000) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._max_tracked = max_tracked
        self._buckets: dict[str, tuple[TokenBucket, float]] = {}
        self._lock = threading.Lock()

    def try_take(self, source: str) -> bool:
        now = self._clock()
        with self._lock:
            found = self._buckets.get(source)
            bucket = found[0] if found else TokenBucket(self._rate, self._burst, self._clock)
            self._buckets[source] = (bucket, now)
            if len(self._buckets) > self._max_tracked:
                self._forget_refilled(now)
        return bucket.try_take()

    @property
    def tracked(self) -> int:
        return len(self._buckets)

    def _forget_refilled(self, now: float) -> None:
        refill_seconds = max(float(self._burst), 1.0) / self._rate
        for source, (_, last_seen) in list(self._buckets.items()):
            if now - last_seen >= refill_seconds:
                del self._buckets[source]
