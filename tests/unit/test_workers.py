"""Background workers start in order, stop in reverse, and one failing does not stop the rest."""

from __future__ import annotations

import threading

from jobsched_local.workers import PeriodicWorker, WorkerGroup


class Recorder:
    def __init__(self, name: str, log: list[str], fail_on_stop: bool = False) -> None:
        self.name = name
        self._log = log
        self._fail_on_stop = fail_on_stop

    def start(self) -> None:
        self._log.append(f"start {self.name}")

    def stop(self) -> None:
        self._log.append(f"stop {self.name}")
        if self._fail_on_stop:
            raise RuntimeError("stuck")


def test_group_starts_in_order_and_stops_in_reverse() -> None:
    log: list[str] = []
    group = WorkerGroup()
    for name in ("snapshots", "stream-feeder", "clock"):
        group.register(Recorder(name, log, fail_on_stop=name == "clock"))
    group.start_all()
    group.stop_all()
    assert log == [
        "start snapshots",
        "start stream-feeder",
        "start clock",
        "stop clock",
        "stop stream-feeder",
        "stop snapshots",
    ]
    assert group.names == ["snapshots", "stream-feeder", "clock"]
    group.stop_all()  # stopping twice is harmless
    assert len(log) == 6


def test_periodic_worker_survives_a_failing_step_and_runs_final_once() -> None:
    ticks: list[int] = []
    finals: list[bool] = []
    second_tick = threading.Event()

    def tick() -> None:
        ticks.append(len(ticks))
        if len(ticks) == 1:
            raise RuntimeError("first step fails")
        second_tick.set()

    worker = PeriodicWorker("test", interval=0.001, tick=tick, final=lambda: finals.append(True))
    worker.start()
    assert second_tick.wait(timeout=30)
    worker.stop()
    assert len(ticks) >= 2
    assert finals == [True]


def test_periodic_worker_takes_its_first_step_after_first_delay_then_every_interval() -> None:
    ticks: list[int] = []
    first = threading.Event()

    def tick() -> None:
        ticks.append(len(ticks))
        first.set()

    worker = PeriodicWorker("test", interval=3600, tick=tick, first_delay=0)
    worker.start()
    assert first.wait(timeout=30)  # at once, not an hour from now
    worker.stop()
    assert ticks == [0]  # and the next an interval later, which stopping cut short
