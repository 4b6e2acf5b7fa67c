"""Feeds the jobs table's stream to schedule-sync, as Lambda's DynamoDB event source does on AWS.

Locally the tables exist once (in the serving region) and stand for every region's replica, so each
emulated region gets its own schedule-sync (the same code as the Lambda: functions.schedule_sync.handler)
fed with the same records: a job homed in eu-west-1 gets its schedule in eu-west-1's moto scheduler.
A batch that fails is retried from the failed record on the next tick; after MAX_ATTEMPTS the records go
to the schedule-sync DLQ (like the event source's on-failure destination) and the stream moves on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.config import Config

from jobsched import config
from jobsched.scheduling.adapters.stream_records import handle_stream_event
from jobsched.scheduling.sync import ScheduleSync
from jobsched_local.workers import PeriodicWorker

LOG = logging.getLogger(__name__)
FEED_INTERVAL_SECONDS = 0.2
# An idle stream is read less and less often, down to once a second (each read costs DynamoDB Local a
# GetRecords); the first record read brings the feeder back to every tick.
IDLE_INTERVAL_SECONDS = 1.0
# Shards are listed (DescribeStream) this often, and at once when a shard is seen to close.
SHARD_LISTING_SECONDS = 10.0
MAX_ATTEMPTS = 5
# moto's in-process DynamoDB Streams only answer clients that do not use account-based endpoints.
STREAMS_CLIENT_CONFIG = Config(account_id_endpoint_mode="disabled")

ClientFor = Callable[[str, str], Any]


class StreamReader:
    """Every record of a table's stream, shard by shard: from its start (TRIM_HORIZON) by default.

    `start_at_latest` instead skips what the stream holds so far: the runtime calls it before it
    rebuilds the schedules from the table, so every change after that point is still read (a record
    both rebuilt and read is applied twice, which schedule-sync takes as a replay) and none before it is.
    """

    def __init__(
        self,
        dynamodb: Any,
        streams: Any,
        table: str,
        monotonic: Callable[[], float] = time.monotonic,
        shard_listing_interval: float = SHARD_LISTING_SECONDS,
    ) -> None:
        self._dynamodb = dynamodb
        self._streams = streams
        self._table = table
        self._iterators: dict[str, str | None] = {}
        self._last_sequence: dict[str, str] = {}
        self._stream_arn: str | None = None
        self._monotonic = monotonic
        self._shard_listing_interval = shard_listing_interval
        self._shards_listed_at: float | None = None

    def start_at_latest(self) -> None:
        """Position every shard after its last record; shards that appear later are read from their start."""
        stream_arn = self._current_stream_arn()
        for shard in self._shards(stream_arn):
            shard_id = shard["ShardId"]
            if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
                self._iterators[shard_id] = None  # closed: everything in it came before the rebuild
            else:
                self._iterators[shard_id] = self._iterator(stream_arn, shard_id, "LATEST")

    def read(self) -> list[dict[str, Any]]:
        stream_arn = self._discover_shards()
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            try:
                response = self._streams.get_records(ShardIterator=iterator, Limit=1000)
            except (
                self._streams.exceptions.ExpiredIteratorException,
                self._streams.exceptions.TrimmedDataAccessException,
            ):
                # An iterator unused for 15 minutes expires: go on after the last record read.
                self._iterators[shard_id] = self._resume_iterator(stream_arn, shard_id)
                continue
            shard_records = response.get("Records", [])
            if shard_records:
                self._last_sequence[shard_id] = str(shard_records[-1]["dynamodb"]["SequenceNumber"])
            records += shard_records
            self._iterators[shard_id] = response.get("NextShardIterator")
            if self._iterators[shard_id] is None:
                self._shards_listed_at = None  # the shard closed: its successor is listed on the next read
        return records

    def _discover_shards(self) -> str:
        stream_arn = self._current_stream_arn()
        now = self._monotonic()
        listed_at = self._shards_listed_at
        if listed_at is not None and now - listed_at < self._shard_listing_interval:
            return stream_arn
        self._shards_listed_at = now
        for shard in self._shards(stream_arn):
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self._iterator(
                    stream_arn, shard["ShardId"], "TRIM_HORIZON"
                )
        return stream_arn

    def _current_stream_arn(self) -> str:
        if self._stream_arn is None:
            table = self._dynamodb.describe_table(TableName=self._table)["Table"]
            self._stream_arn = str(table["LatestStreamArn"])
        return self._stream_arn

    def _shards(self, stream_arn: str) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": stream_arn}
        while True:
            description = self._streams.describe_stream(**request)["StreamDescription"]
            shards += description["Shards"]
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def _iterator(self, stream_arn: str, shard_id: str, kind: str, **extra: str) -> str | None:
        response = self._streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType=kind, **extra
        )
        iterator = response.get("ShardIterator")
        return str(iterator) if iterator is not None else None

    def _resume_iterator(self, stream_arn: str, shard_id: str) -> str | None:
        last = self._last_sequence.get(shard_id)
        if last is None:
            return self._iterator(stream_arn, shard_id, "TRIM_HORIZON")
        return self._iterator(stream_arn, shard_id, "AFTER_SEQUENCE_NUMBER", SequenceNumber=last)


@dataclass
class _Backlog:
    sync: ScheduleSync
    records: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0


class StreamFeeder:
    """Reads new records and hands each region's schedule-sync its batch, with retries and a DLQ."""

    name = "schedule-sync-feeder"

    def __init__(
        self,
        reader: StreamReader,
        syncs: Sequence[ScheduleSync],
        dead_letters: Callable[[str, list[dict[str, Any]]], None],
        interval: float = FEED_INTERVAL_SECONDS,
        idle_interval: float = IDLE_INTERVAL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reader = reader
        self._backlogs = [_Backlog(sync) for sync in syncs]
        self._dead_letters = dead_letters
        self._interval = interval
        self._idle_interval = idle_interval
        self._monotonic = monotonic
        self._wait = interval  # how long after the last read the next one is due
        self._last_read: float | None = None
        self._worker = PeriodicWorker(self.name, interval, self.tick)

    def tick(self) -> int:
        """Read when due: every tick while records come, backing off (doubling) to `idle_interval` when
        reads come back empty; a retry backlog keeps the feeder on every tick."""
        now = self._monotonic()
        if self._last_read is not None and now - self._last_read < self._wait - self._interval / 2:
            return 0
        self._last_read = now
        read = self.feed()
        busy = read > 0 or any(backlog.records for backlog in self._backlogs)
        self._wait = self._interval if busy else min(self._wait * 2, self._idle_interval)
        return read

    def feed(self) -> int:
        """One round: read the stream, then give every region its backlog. Returns records read."""
        records = self._reader.read()
        for backlog in self._backlogs:
            backlog.records += [record for record in records if concerns(record, backlog.sync.region)]
            self._drain(backlog)
        return len(records)

    def _drain(self, backlog: _Backlog) -> None:
        if not backlog.records:
            return
        response = handle_stream_event(backlog.sync, {"Records": backlog.records})
        failures = response["batchItemFailures"]
        if not failures:
            backlog.records, backlog.attempts = [], 0
            return
        first = _index_of(backlog.records, failures[0]["itemIdentifier"])
        backlog.records = backlog.records[first:]
        backlog.attempts += 1
        if backlog.attempts >= MAX_ATTEMPTS:
            LOG.error(
                "schedule-sync %s gave up on %d record(s)", backlog.sync.region, len(backlog.records[:1])
            )
            self._dead_letters(backlog.sync.region, backlog.records[:1])
            backlog.records, backlog.attempts = backlog.records[1:], 0

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()


def concerns(record: dict[str, Any], region: str) -> bool:
    """Whether a region's schedule-sync needs this record: the job is homed there before or after it.

    Every region's sync would read the job again and find it homed elsewhere (one read, and a delete of a
    schedule that is not there, per region and change); only the old and the new home can have anything
    to do, as with a Lambda event filter on the region. A record without a region in its images (not a
    job's) goes to every region, which decides as before.
    """
    change = record.get("dynamodb") or {}
    homes = {
        image.get("region", {}).get("S")
        for image in (change.get("OldImage"), change.get("NewImage"))
        if isinstance(image, dict)
    }
    return not homes or None in homes or region in homes


def _index_of(records: list[dict[str, Any]], sequence_number: str) -> int:
    for index, record in enumerate(records):
        if str(record.get("dynamodb", {}).get("SequenceNumber")) == sequence_number:
            return index
    return 0


def sqs_dead_letters(client_for: ClientFor) -> Callable[[str, list[dict[str, Any]]], None]:
    """Given-up records go to the region's schedule-sync DLQ (the event source's on-failure destination)."""

    def send(region: str, records: list[dict[str, Any]]) -> None:
        sqs = client_for("sqs", region)
        url = sqs.get_queue_url(QueueName=config.SCHEDULE_SYNC_DLQ)["QueueUrl"]
        for record in records:
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    return send


def local_syncs(
    regions: Sequence[str],
    serving_region: str,
    client_for: ClientFor,
    account: str,
    clock: Callable[[], datetime] | None = None,
) -> list[ScheduleSync]:
    """One schedule-sync per emulated region, built by the Lambda's own factory."""
    from jobsched.scheduling.adapters.sync_setup import build_sync
    from jobsched.scheduling.settings import SchedulingSettings, queue_arn

    syncs = []
    for region in regions:
        settings = SchedulingSettings(
            region=region,
            execution_queue_arn=queue_arn(region, account, config.EXECUTION_QUEUE),
            scheduler_dlq_arn=queue_arn(region, account, config.SCHEDULER_DLQ),
            scheduler_role_arn=f"arn:aws:iam::{account}:role/{config.SERVICE}-scheduler-{region}",
        )
        syncs.append(
            build_sync(
                settings, client_for("scheduler", region), client_for("dynamodb", serving_region), clock
            )
        )
    return syncs
