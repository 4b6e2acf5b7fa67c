"""Token buckets and daily quotas, driven by a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from jobsched.config import TIERS, Tier
from jobsched_local.throttle import SECONDS_PER_DAY, DailyQuota, KeyLimiter, PlanLimits, TokenBucket, Verdict


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def take_many(bucket: TokenBucket, count: int) -> int:
    return sum(bucket.try_take() for _ in range(count))


def test_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, burst=5, clock=FakeClock())
    assert take_many(bucket, 8) == 5


def test_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=4, clock=clock)
    take_many(bucket, 4)
    clock.advance(1.0)
    assert take_many(bucket, 5) == 2


def test_bucket_never_holds_more_than_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=3, clock=clock)
    clock.advance(3600)
    assert take_many(bucket, 10) == 3


def test_slow_rate_needs_whole_tokens() -> None:
    clock = FakeClock()
    basic = TIERS[Tier.BASIC]
    bucket = TokenBucket(basic.rate_per_second, basic.burst, clock)
    assert take_many(bucket, basic.burst) == basic.burst
    clock.advance(3.0)  # 0.84 of a token
    assert not bucket.try_take()
    clock.advance(1.0)  # 1.12 tokens
    assert bucket.try_take()


def test_clock_stepping_back_does_not_drain_the_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    clock.advance(-100)
    assert take_many(bucket, 2) == 2


def test_quota_counts_per_day_and_rolls_over_at_utc_midnight() -> None:
    clock = FakeClock(now=SECONDS_PER_DAY * 20_000 + SECONDS_PER_DAY - 10)  # 10 s before midnight UTC
    quota = DailyQuota(limit=3, clock=clock)
    assert [quota.try_use() for _ in range(4)] == [True, True, True, False]
    clock.advance(9)
    assert not quota.try_use()
    clock.advance(1)
    assert [quota.try_use() for _ in range(4)] == [True, True, True, False]


def test_limiter_reports_throttle_before_quota() -> None:
    clock = FakeClock()
    limiter = KeyLimiter(clock)
    limits = PlanLimits(rate=1.0, burst=2, daily_quota=3)
    assert [limiter.check("k", limits) for _ in range(3)] == [
        Verdict.ALLOWED,
        Verdict.ALLOWED,
        Verdict.THROTTLED,
    ]
    clock.advance(10)
    assert [limiter.check("k", limits) for _ in range(2)] == [Verdict.ALLOWED, Verdict.QUOTA_EXCEEDED]


def test_limiter_keeps_keys_apart() -> None:
    limiter = KeyLimiter(FakeClock())
    limits = PlanLimits(rate=1.0, burst=1, daily_quota=None)
    assert limiter.check("a", limits) is Verdict.ALLOWED
    assert limiter.check("a", limits) is Verdict.THROTTLED
    assert limiter.check("b", limits) is Verdict.ALLOWED


@pytest.mark.parametrize("tier", list(Tier))
def test_each_tier_allows_exactly_its_burst_at_once(tier: Tier) -> None:
    tier_limits = TIERS[tier]
    limiter = KeyLimiter(FakeClock())
    limits = PlanLimits(tier_limits.rate_per_second, tier_limits.burst, tier_limits.daily_quota)
    verdicts = [limiter.check("k", limits) for _ in range(tier_limits.burst + 1)]
    assert verdicts.count(Verdict.ALLOWED) == tier_limits.burst
    assert verdicts[-1] is Verdict.THROTTLED
