"""The archive of execution history older than the table keeps (30 days), until the 12-month retention.

Layout (the same in the S3 bucket and in the local runtime's folder): one object per tenant, job and UTC day
of the scheduled time, gzip-compressed JSON lines of executions, newest first:

    executions/<tenant>/<job_id>/<YYYY-MM-DD>.jsonl.gz

and beside them the job's day index, `executions/<tenant>/<job_id>/days.json` ({"days": [...]}, ascending),
which the archiver writes before the day objects it names. A read looks up the index (one GET) instead of
listing the job's prefix (a LIST costs 12.5 GETs); a day the index names but no object holds (a run that
stopped between the two) reads as empty.

Writing an object merges with what is already there (by execution id, the newer copy wins), so an archive
run can be repeated, and a day archived in two runs keeps everything. Reading pages newest first continues
where the table ends, with the same `after` token, so a client paging a job's history never sees the seam.
No HTTP and no AWS in here: the store is a port (S3 on AWS, a folder locally).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any, Protocol

from jobsched.errors import NotFound
from jobsched.execution.models import Execution, ExecutionStatus
from jobsched.keyscheme import JobKey

if TYPE_CHECKING:
    from jobsched.execution.ports import ExecutionHistory

PREFIX = "executions"
SUFFIX = ".jsonl.gz"
INDEX_NAME = "days.json"
_EXECUTION_DAY = re.compile(r"^exe_(\d{4})(\d{2})(\d{2})T")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The archiver runs every ARCHIVE_EVERY and copies what the table's TTL removes within ARCHIVE_AHEAD, two
# runs' worth, so every execution is archived by two runs. Every third day rather than daily: each run
# scans the whole 30-day table, so a third of the runs is a third of the scan reads (docs/decisions.md).
ARCHIVE_EVERY = timedelta(days=3)
ARCHIVE_AHEAD = 2 * ARCHIVE_EVERY
# A run scans the table in this many segments, one queue message each, a few at a time at a bounded read
# rate (config.ARCHIVE_READ_UNITS_PER_SECOND per segment being scanned), so that the table's provisioned read
# capacity carries it (docs/decisions.md, Cost). Small segments keep each one far inside the archiver's
# timeout, and a segment that fails is scanned again alone.
ARCHIVE_SEGMENTS = 512
# The most segments a run's event or message may name (DynamoDB allows up to a million).
MAX_SEGMENTS = 1000
# The item attributes kept in the archive: what the API returns, nothing internal (leases, keys).
_ARCHIVED_FIELDS = tuple(name for name in Execution.model_fields if name != "archived")


class ArchiveStore(Protocol):
    """Objects by key: S3 on AWS (execution.adapters.archive_store), a folder in the local runtime."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such object."""
        ...


def job_prefix(job: JobKey) -> str:
    return f"{PREFIX}/{job.tenant}/{job.job_id}/"


def object_key(job: JobKey, day: str) -> str:
    return f"{job_prefix(job)}{day}{SUFFIX}"


def index_key(job: JobKey) -> str:
    return f"{job_prefix(job)}{INDEX_NAME}"


def encode_index(days: Iterable[str]) -> bytes:
    return json.dumps({"days": sorted(set(days))}, separators=(",", ":")).encode()


def decode_index(data: bytes | None) -> list[str]:
    """The days a job's index names, ascending; anything that is not a day is ignored (an index that does
    not parse names none: the day objects stay, and the next run that archives the job writes it anew)."""
    try:
        days = json.loads(data)["days"] if data else []
    except (ValueError, TypeError, KeyError):
        return []
    if not isinstance(days, list):
        return []
    return sorted({day for day in days if isinstance(day, str) and _DAY.match(day)})


def execution_day(execution_id: str) -> str | None:
    """The UTC day an execution id names (ids start with the stamp of their scheduled time)."""
    match = _EXECUTION_DAY.match(execution_id)
    return None if match is None else "-".join(match.groups())


def encode(items: Iterable[Mapping[str, Any]]) -> bytes:
    lines = sorted(
        (json.dumps(item, separators=(",", ":"), sort_keys=True) for item in items),
        key=lambda line: json.loads(line)["execution_id"],
        reverse=True,
    )
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def decode(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines() if line]


def archived_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """An execution item (as read from the table) reduced to what the archive keeps, JSON-ready."""
    execution = Execution.model_validate(item)
    return execution.model_dump(mode="json", include=set(_ARCHIVED_FIELDS), exclude_none=True)


class ExecutionArchive:
    def __init__(self, store: ArchiveStore) -> None:
        self._store = store

    def archive(self, job: JobKey, items: Iterable[Mapping[str, Any]]) -> int:
        """Write one job's executions into their day objects, merged with what is there. Returns the count."""
        by_day: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for item in items:
            record = archived_record(item)
            day = execution_day(record["execution_id"])
            if day is None:
                continue  # not an id this service made; nothing could ever read it back
            by_day[day][record["execution_id"]] = record
        if not by_day:
            return 0
        # The index first: a day it names whose object is not written yet reads as empty, whereas an
        # object the index does not name could never be read.
        known = decode_index(self._store.get(index_key(job)))
        if not set(by_day) <= set(known):
            self._store.put(index_key(job), encode_index([*known, *by_day]))
        for day, records in by_day.items():
            key = object_key(job, day)
            existing = self._store.get(key)
            merged = {r["execution_id"]: r for r in decode(existing)} if existing else {}
            merged.update(records)
            self._store.put(key, encode(merged.values()))
        return sum(len(records) for records in by_day.values())

    def get(self, job: JobKey, execution_id: str) -> Execution | None:
        day = execution_day(execution_id)
        if day is None:
            return None
        data = self._store.get(object_key(job, day))
        for record in decode(data) if data else ():
            if record["execution_id"] == execution_id:
                return _archived(record)
        return None

    def page(
        self, job: JobKey, *, before: str | None, limit: int, status: ExecutionStatus | None
    ) -> tuple[list[Execution], bool]:
        """Up to `limit` executions older than `before` (newest first), and whether older ones remain."""
        days = decode_index(self._store.get(index_key(job)))
        last_day = execution_day(before) if before else None
        found: list[Execution] = []
        for day in reversed(days):
            if last_day is not None and day > last_day:
                continue
            data = self._store.get(object_key(job, day))
            for record in decode(data) if data else ():
                if before is not None and record["execution_id"] >= before:
                    continue
                if status is not None and record.get("status") != status.value:
                    continue
                if len(found) == limit:
                    return found, True
                found.append(_archived(record))
        return found, False


def _archived(record: Mapping[str, Any]) -> Execution:
    return Execution.model_validate({**record, "archived": True})


class ArchivedHistory:
    """The executions table first, then the archive: one history with one paging token.

    The table holds the last 30 days (its TTL) and the archive everything older, so a page that reaches
    the table's oldest item continues in the archive with the executions older than the last one returned.
    `latest_failed` (the retry default) looks in the table only: a retry is about recent failures.
    """

    def __init__(
        self,
        table: ExecutionHistory,
        archive: ExecutionArchive,
        *,
        encode_token: Callable[[str], str],
        decode_token: Callable[[str], str],
    ) -> None:
        self._table = table
        self._archive = archive
        self._encode_token = encode_token
        self._decode_token = decode_token

    def get(self, job: JobKey, execution_id: str) -> Execution:
        try:
            return self._table.get(job, execution_id)
        except NotFound:
            archived = self._archive.get(job, execution_id)
            if archived is None:
                raise
            return archived

    def list(
        self, job: JobKey, *, limit: int, next_token: str | None, status: ExecutionStatus | None
    ) -> tuple[list[Execution], str | None]:
        items, token = self._table.list(job, limit=limit, next_token=next_token, status=status)
        if token is not None:
            return items, token
        # The table has nothing older: continue below the last execution returned (or the token's).
        if items:
            before: str | None = items[-1].execution_id
        else:
            before = self._decode_token(next_token) if next_token else None
        older, more = self._archive.page(job, before=before, limit=limit - len(items), status=status)
        items = items + older
        return items, (self._encode_token(items[-1].execution_id) if more and items else None)

    def latest_failed(self, job: JobKey) -> Execution | None:
        return self._table.latest_failed(job)


def archive_items(archive: ExecutionArchive, items: Iterable[Mapping[str, Any]]) -> ArchiveRun:
    """Archive execution items as a table scan yields them, one job's run of items at a time.

    A scan returns a partition's items together, so memory holds one job's items, not the segment's; were
    a job's items ever split, the object merge would still keep all of them (at the price of a second PUT).
    """
    run = ArchiveRun()
    for job, job_items in groupby(items, key=lambda item: JobKey(str(item["tenant"]), str(item["job_id"]))):
        run.executions += archive.archive(job, job_items)
        run.jobs += 1
    return run


@dataclass
class ArchiveRun:
    executions: int = 0
    jobs: int = 0


@dataclass(frozen=True)
class ArchiveSegment:
    """One segment of an archive run's parallel scan: `segment` of `total_segments`."""

    segment: int
    total_segments: int

    def message(self) -> str:
        return json.dumps({"segment": self.segment, "total_segments": self.total_segments})


def archive_segment(event: Mapping[str, Any]) -> ArchiveSegment:
    """The segment an event or queue message names; anything else is refused with ValueError (a segment out
    of range would scan nothing, or fail in DynamoDB)."""
    segment, total = event.get("segment"), event.get("total_segments")
    if (
        type(segment) is not int
        or type(total) is not int
        or set(event) - {"segment", "total_segments"}
        or not 0 <= segment < total <= MAX_SEGMENTS
    ):
        raise ValueError(f"bad archive segment {segment!r} of {total!r}")
    return ArchiveSegment(segment, total)


def archive_segment_message(body: str) -> ArchiveSegment:
    """The segment a queue message's body names (JSON {"segment": i, "total_segments": n})."""
    try:
        event = json.loads(body)
    except ValueError:
        raise ValueError("bad archive segment message: not JSON") from None
    if not isinstance(event, dict):
        raise ValueError("bad archive segment message: not an object")
    return archive_segment(event)


def plan_segments(total_segments: int = ARCHIVE_SEGMENTS) -> list[ArchiveSegment]:
    """Every segment of one archive run's scan."""
    if not 0 < total_segments <= MAX_SEGMENTS:
        raise ValueError(f"bad archive segment count {total_segments!r}")
    return [ArchiveSegment(segment, total_segments) for segment in range(total_segments)]


class SegmentQueue(Protocol):
    """Where an archive run's segments wait to be scanned: the archive queue (SQS) on AWS."""

    def send(self, segments: list[ArchiveSegment]) -> None: ...


def expiring_before(now: datetime) -> int:
    """The archiver's horizon: executions the table's TTL removes within the next ARCHIVE_AHEAD.

    Every execution is archived by the two runs before it expires (ARCHIVE_EVERY apart; the object merge
    makes the second a no-op), so one failed run loses nothing; expired items the TTL has not yet removed
    are still read by the scan and archived too.
    """
    return int((now.astimezone(UTC) + ARCHIVE_AHEAD).timestamp())
