"""How the local runtime runs its background workers: the protocol each follows, a periodic worker on a
daemon thread, and the group that starts them in order and stops them in reverse.

The workers themselves live beside what they stand in for: the stream feeder (stream_feeder.py, schedule-sync
on the jobs stream), the schedule clock (schedule_clock.py), execution recovery (execution_recovery.py), the
queue poller (execution_poller.py, on its own long-polling thread), the job census and the archive pass
(runtime.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

LOG = logging.getLogger(__name__)


class BackgroundWorker(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None:
        """Finish the current step and return; called once, at shutdown."""
        ...


class PeriodicWorker:
    """Calls `tick` every `interval` seconds on a daemon thread, the first time after `first_delay` (by
    default one interval); `final` runs once after the last tick."""

    def __init__(
        self,
        name: str,
        interval: float,
        tick: Callable[[], object],
        final: Callable[[], None] | None = None,
        first_delay: float | None = None,
    ) -> None:
        self.name = name
        self._interval = interval
        self._first_delay = interval if first_delay is None else first_delay
        self._tick = tick
        self._final = final
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._final is not None:
            self._final()

    def _run(self) -> None:
        delay = self._first_delay
        while not self._stopping.wait(delay):
            delay = self._interval
            try:
                self._tick()
            except Exception:
                # One failed step must not end the worker; the next tick tries again.
                LOG.exception("background worker %s failed a step", self.name)


class WorkerGroup:
    """Workers start in registration order and stop in reverse, so later ones may rely on earlier ones."""

    def __init__(self) -> None:
        self._workers: list[BackgroundWorker] = []
        self._started: list[BackgroundWorker] = []

    def register(self, worker: BackgroundWorker) -> None:
        self._workers.append(worker)

    def start_all(self) -> None:
        for worker in self._workers:
            worker.start()
            self._started.append(worker)

    def stop_all(self) -> None:
        while self._started:
            worker = self._started.pop()
            try:
                worker.stop()
            except Exception:
                LOG.exception("background worker %s did not stop cleanly", worker.name)

    @property
    def names(self) -> list[str]:
        return [worker.name for worker in self._workers]
