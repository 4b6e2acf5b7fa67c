"""Deep health: can this region serve a request right now? What Route 53's health checks ask.

A region is healthy when its function settings load, its jobs table answers one GetItem of a fixed key,
its execution queue answers GetQueueAttributes, and no operator has marked it unhealthy for a drill. The
fixed key read is the region's drill marker itself, so one read answers both "table" and "drill".
The verdict is cached for a few seconds: health checkers from a dozen locations then cost almost nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from jobsched import config

SETTINGS = "settings"
TABLE = "table"
QUEUE = "queue"
DRILL = "drill"
Clock = Callable[[], float]


class DependencyFailed(Exception):
    """A dependency did not answer as it should; `reason` is safe to show to anyone (no ARNs, no messages)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DrillMarker:
    """An operator marked a region unhealthy to rehearse losing it (`jobsched regions fail`)."""

    region: str
    marked_at: str
    note: str = ""


class DrillMarkers(Protocol):
    """Where drill markers live (the jobs table); reading one is also the deep check of the table."""

    def get(self, region: str) -> DrillMarker | None: ...


class QueueProbe(Protocol):
    def check(self) -> None:
        """Return if the execution queue answers; raise otherwise."""


@dataclass(frozen=True)
class Dependencies:
    """What a request in this region needs, built once from the function's settings."""

    region: str
    version: str
    drills: DrillMarkers
    queue: QueueProbe


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    milliseconds: float
    reason: str | None = None

    def document(self) -> dict[str, Any]:
        found: dict[str, Any] = {"ok": self.ok, "ms": round(self.milliseconds, 1)}
        if self.reason:
            found["reason"] = self.reason
        return found


@dataclass(frozen=True)
class Verdict:
    results: tuple[CheckResult, ...]
    checked_at: float  # seconds since the epoch
    region: str | None
    version: str | None

    @property
    def healthy(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def failed(self) -> list[str]:
        return [result.name for result in self.results if not result.ok]

    def document(self, *, cached: bool) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "region": self.region,
            "version": self.version,
            "checked_at": datetime.fromtimestamp(self.checked_at, UTC).isoformat(timespec="seconds"),
            "cached": cached,
            "checks": {result.name: result.document() for result in self.results},
            "failed": self.failed,
        }


class DeepHealth:
    """Checks the region's dependencies at most once per `cache_seconds` and remembers the verdict.

    `load` builds the dependencies from the settings; it is retried on the next uncached check when it
    fails (a settings problem is reported as the "settings" check, not raised). `clock` measures the
    cache's age (monotonic); `wall_clock` stamps the verdict.
    """

    def __init__(
        self,
        load: Callable[[], Dependencies],
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        cache_seconds: float = config.DEEP_HEALTH_CACHE_SECONDS,
    ) -> None:
        self._load = load
        self.clock = clock
        self._wall_clock = wall_clock
        self._cache_seconds = cache_seconds
        self._dependencies: Dependencies | None = None
        self._cached: tuple[float, Verdict] | None = None

    def verdict(self) -> tuple[Verdict, bool]:
        """The current verdict and whether it came from the cache."""
        now = self.clock()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1], True
        verdict = self._check()
        self._cached = (now, verdict)
        return verdict, False

    def _check(self) -> Verdict:
        checked_at = self._wall_clock()
        started = time.perf_counter()
        try:
            if self._dependencies is None:
                self._dependencies = self._load()
        except Exception as exc:
            failed = CheckResult(SETTINGS, False, _since(started), _reason(exc))
            return Verdict((failed,), checked_at, None, None)
        dependencies = self._dependencies
        results = [CheckResult(SETTINGS, True, _since(started))]
        # In parallel: the answer takes as long as the slowest check, not their sum (Route 53 waits 2 s).
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="deep-health") as pool:
            drill = pool.submit(_timed, lambda: dependencies.drills.get(dependencies.region))
            queue = pool.submit(_timed, dependencies.queue.check)
            (marker, table_result), (_, queue_result) = drill.result(), queue.result()
        results.append(_named(TABLE, table_result))
        results.append(_named(QUEUE, queue_result))
        if table_result.ok:
            # The marker could only be read if the table answered; otherwise the drill is unknown.
            results.append(_drill_result(marker))
        return Verdict(tuple(results), checked_at, dependencies.region, dependencies.version)


def _timed(call: Callable[[], Any]) -> tuple[Any, CheckResult]:
    started = time.perf_counter()
    try:
        value = call()
    except Exception as exc:
        return None, CheckResult("", False, _since(started), _reason(exc))
    return value, CheckResult("", True, _since(started))


def _named(name: str, result: CheckResult) -> CheckResult:
    return CheckResult(name, result.ok, result.milliseconds, result.reason)


def _drill_result(marker: Any) -> CheckResult:
    if not isinstance(marker, DrillMarker):
        return CheckResult(DRILL, True, 0.0)
    # The operator's note stays out: this answer is public; `jobsched regions status` shows it.
    return CheckResult(
        DRILL, False, 0.0, f"region marked unhealthy by an operator drill at {marker.marked_at}"
    )


def _reason(exc: Exception) -> str:
    # Only our own reasons or the exception's type: the endpoint is public, messages may name resources.
    return exc.reason if isinstance(exc, DependencyFailed) else type(exc).__name__


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
