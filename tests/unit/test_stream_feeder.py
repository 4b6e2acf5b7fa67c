"""The stream feeder reads an idle stream less and less often, and lists shards only now and then."""

from __future__ import annotations

import itertools
from typing import Any

from jobsched_local.stream_feeder import StreamFeeder, StreamReader


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Reader:
    """Returns the queued batches, then nothing."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.reads: list[float] = []

    def read(self, at: float) -> list[dict[str, Any]]:
        self.reads.append(at)
        return self.batches.pop(0) if self.batches else []


def feeder_with(reader: Reader, clock: Clock) -> StreamFeeder:
    adapter: Any = type("Adapter", (), {"read": lambda _self: reader.read(clock())})()
    return StreamFeeder(
        adapter, [], lambda region, records: None, interval=0.2, idle_interval=1.0, monotonic=clock
    )


def run_ticks(feeder: StreamFeeder, clock: Clock, seconds: float) -> None:
    for _ in range(round(seconds / 0.2)):
        clock.now = round(clock.now + 0.2, 6)
        feeder.tick()


def test_an_idle_stream_is_read_less_and_less_often_down_to_once_a_second() -> None:
    reader, clock = Reader(), Clock()
    feeder = feeder_with(reader, clock)
    run_ticks(feeder, clock, 6.0)
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(reader.reads)]
    assert gaps[:3] == [0.4, 0.8, 1.0]
    assert set(gaps[3:]) == {1.0}


def test_records_bring_the_feeder_back_to_every_tick() -> None:
    reader, clock = Reader(), Clock()
    feeder = feeder_with(reader, clock)
    run_ticks(feeder, clock, 4.0)  # idle: once a second by now
    reader.batches = [[{"eventName": "INSERT"}], [{"eventName": "MODIFY"}]]
    before = len(reader.reads)
    run_ticks(feeder, clock, 1.6)
    after = reader.reads[before:]
    # The read that found records is followed by reads on every tick while records come.
    assert [round(b - a, 1) for a, b in itertools.pairwise(after)][:2] == [0.2, 0.2]


class Streams:
    """A stream with one open shard, counting DescribeStream calls."""

    class exceptions:
        class ExpiredIteratorException(Exception):
            pass

        class TrimmedDataAccessException(Exception):
            pass

    def __init__(self) -> None:
        self.shards = [{"ShardId": "s1", "SequenceNumberRange": {"StartingSequenceNumber": "1"}}]
        self.describes = 0
        self.close_next = False

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        self.describes += 1
        return {"StreamDescription": {"Shards": list(self.shards)}}

    def get_shard_iterator(self, ShardId: str, **_: Any) -> dict[str, Any]:
        return {"ShardIterator": f"it-{ShardId}"}

    def get_records(self, ShardIterator: str, **_: Any) -> dict[str, Any]:
        if self.close_next and ShardIterator == "it-s1":
            self.shards.append({"ShardId": "s2", "ParentShardId": "s1"})
            return {"Records": []}  # no NextShardIterator: the shard is closed
        return {"Records": [], "NextShardIterator": ShardIterator}


class Tables:
    def describe_table(self, **_: Any) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": "arn:stream"}}


def test_shards_are_listed_every_ten_seconds_and_at_once_when_one_closes() -> None:
    streams, clock = Streams(), Clock()
    reader = StreamReader(Tables(), streams, "jobs", monotonic=clock, shard_listing_interval=10.0)
    for _ in range(5):
        reader.read()
        clock.now += 1.0
    assert streams.describes == 1
    clock.now = 10.5
    reader.read()
    assert streams.describes == 2
    streams.close_next = True
    reader.read()  # s1 ends here
    streams.close_next = False
    reader.read()  # s2 is found on the very next read
    assert streams.describes == 3
    assert reader._iterators == {"s1": None, "s2": "it-s2"}
