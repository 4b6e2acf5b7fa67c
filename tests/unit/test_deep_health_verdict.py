"""Deep health's verdict from its checks, with in-memory dependencies and an injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from jobsched.health.deep import DeepHealth, Dependencies, DependencyFailed, DrillMarker


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeDrills:
    marker: DrillMarker | None = None
    error: Exception | None = None
    reads: list[str] = field(default_factory=list)

    def get(self, region: str) -> DrillMarker | None:
        self.reads.append(region)
        if self.error:
            raise self.error
        return self.marker


@dataclass
class FakeQueue:
    error: Exception | None = None
    checks: int = 0

    def check(self) -> None:
        self.checks += 1
        if self.error:
            raise self.error


@pytest.fixture
def drills() -> FakeDrills:
    return FakeDrills()


@pytest.fixture
def queue() -> FakeQueue:
    return FakeQueue()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_health(drills: FakeDrills, queue: FakeQueue, clock: Clock) -> DeepHealth:
    return DeepHealth(
        lambda: Dependencies("eu-west-1", "1.2.3", drills, queue),
        clock=clock,
        wall_clock=lambda: 1_800_000_000.0,
        cache_seconds=5,
    )


def test_all_checks_pass_and_the_document_lists_each(
    drills: FakeDrills, queue: FakeQueue, clock: Clock
) -> None:
    verdict, cached = make_health(drills, queue, clock).verdict()
    document = verdict.document(cached=cached)

    assert verdict.healthy and not cached
    assert document["status"] == "ok"
    assert (document["region"], document["version"]) == ("eu-west-1", "1.2.3")
    assert document["checked_at"] == "2027-01-15T08:00:00+00:00"
    assert set(document["checks"]) == {"settings", "table", "queue", "drill"}
    assert all(check["ok"] for check in document["checks"].values())
    assert document["failed"] == []
    assert drills.reads == ["eu-west-1"]  # the region's own marker: the one table read


def test_a_drill_marker_fails_the_region_and_says_so(
    drills: FakeDrills, queue: FakeQueue, clock: Clock
) -> None:
    drills.marker = DrillMarker("eu-west-1", "2027-01-15T07:59:00+00:00", note="game day, ticket OPS-1")
    verdict, _ = make_health(drills, queue, clock).verdict()
    document = verdict.document(cached=False)

    assert document["status"] == "unhealthy"
    assert document["failed"] == ["drill"]
    reason = document["checks"]["drill"]["reason"]
    assert reason == "region marked unhealthy by an operator drill at 2027-01-15T07:59:00+00:00"
    assert "OPS-1" not in reason  # the operator's note is not published
    assert document["checks"]["table"]["ok"] is True


def test_an_unreachable_table_is_named_and_the_drill_is_not_guessed(
    drills: FakeDrills, queue: FakeQueue, clock: Clock
) -> None:
    drills.error = DependencyFailed("table jobsched-jobs: ResourceNotFoundException")
    verdict, _ = make_health(drills, queue, clock).verdict()
    document = verdict.document(cached=False)

    assert document["failed"] == ["table"]
    assert document["checks"]["table"]["reason"] == "table jobsched-jobs: ResourceNotFoundException"
    assert "drill" not in document["checks"]
    assert document["checks"]["queue"]["ok"] is True


def test_a_failing_queue_is_named(drills: FakeDrills, queue: FakeQueue, clock: Clock) -> None:
    queue.error = DependencyFailed("queue jobsched-executions: timed out")
    verdict, _ = make_health(drills, queue, clock).verdict()

    assert verdict.failed == ["queue"]
    assert (
        verdict.document(cached=False)["checks"]["queue"]["reason"] == "queue jobsched-executions: timed out"
    )


def test_an_unexpected_error_shows_its_type_only(drills: FakeDrills, queue: FakeQueue, clock: Clock) -> None:
    queue.error = RuntimeError("arn:aws:sqs:eu-west-1:123456789012:secret-detail")
    verdict, _ = make_health(drills, queue, clock).verdict()

    assert verdict.document(cached=False)["checks"]["queue"]["reason"] == "RuntimeError"


def test_settings_that_do_not_load_fail_the_settings_check_and_are_retried(clock: Clock) -> None:
    attempts: list[int] = []

    def load() -> Dependencies:
        attempts.append(1)
        if len(attempts) == 1:
            raise DependencyFailed(
                "invalid function configuration: region: String should have at least 1 character"
            )
        return Dependencies("us-east-1", "1", FakeDrills(), FakeQueue())

    health = DeepHealth(load, clock=clock, cache_seconds=5)
    verdict, _ = health.verdict()
    document = verdict.document(cached=False)
    assert document["failed"] == ["settings"]
    assert document["region"] is None
    assert document["checks"]["settings"]["reason"].startswith("invalid function configuration: region")

    clock.now += 5
    assert health.verdict()[0].healthy
    clock.now += 5
    assert health.verdict()[0].healthy
    assert len(attempts) == 2  # loaded once it worked, not on every check


def test_the_verdict_is_cached_for_the_configured_seconds(
    drills: FakeDrills, queue: FakeQueue, clock: Clock
) -> None:
    health = make_health(drills, queue, clock)

    first, first_cached = health.verdict()
    clock.now += 4.9
    drills.marker = DrillMarker("eu-west-1", "now")  # changes nothing until the cache expires
    second, second_cached = health.verdict()
    clock.now += 0.1
    third, third_cached = health.verdict()

    assert (first_cached, second_cached, third_cached) == (False, True, False)
    assert second is first and second.healthy
    assert third.failed == ["drill"]
    assert (len(drills.reads), queue.checks) == (2, 2)
