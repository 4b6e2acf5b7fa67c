"""Archiver: executions the table's TTL removes within six days, copied to this region's bucket.

Every third day a rule invokes it with {"plan": true}: it queues one message per scan segment of the run
(ARCHIVE_SEGMENTS) on the archive queue. The queue invokes it again with each segment (batch size 1, a few
at a time): it scans that segment of this region's executions table at a bounded read rate
(ARCHIVE_READ_UNITS_PER_SECOND) and merges every job's expiring executions into the job's day objects
(jobsched.execution.archive). The TTL then deletes them from the table, at no cost. An operator may also
invoke it with one segment ({"segment": i, "total_segments": n}). Anything else is refused.
"""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from datetime import UTC, datetime
from typing import Any

from jobsched.aws.clients import client, deferred_client
from jobsched.execution.adapters.archive_store import archive_store, scan_executions
from jobsched.execution.adapters.segment_queue import SqsSegmentQueue
from jobsched.execution.archive import (
    ArchiveSegment,
    ExecutionArchive,
    archive_items,
    archive_segment,
    archive_segment_message,
    expiring_before,
    plan_segments,
)
from jobsched.execution.read_pacing import ReadPacer
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_handler, logger

SETTINGS = load_settings()
ARCHIVE = ExecutionArchive(
    archive_store(SETTINGS, SETTINGS.region, deferred_client("s3"), deferred_client("sts"))
)
SEGMENTS = SqsSegmentQueue(deferred_client("sqs"))


def _scan(segment: ArchiveSegment) -> dict[str, Any]:
    pacer = ReadPacer(SETTINGS.archive_read_units_per_second)
    items = scan_executions(
        client("dynamodb"),
        SETTINGS.executions_table,
        segment=segment.segment,
        total_segments=segment.total_segments,
        expires_before=expiring_before(datetime.now(UTC)),
        pacer=pacer,
    )
    run = archive_items(ARCHIVE, items)
    result = {
        "executions": run.executions,
        "jobs": run.jobs,
        "segment": segment.segment,
        "read_units": pacer.consumed_units,
    }
    logger.info("archived", extra=result)
    return result


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise ValueError("bad archive event: not an object")
    if "Records" in event:  # the archive queue, one segment a batch
        records = event["Records"]
        if not isinstance(records, list) or len(records) != 1 or not isinstance(records[0], dict):
            raise ValueError("bad archive event: expected one queue record")
        return _scan(archive_segment_message(str(records[0].get("body"))))
    if event == {"plan": True}:
        segments = plan_segments()
        SEGMENTS.send(segments)
        logger.info("archive run planned", extra={"segments": len(segments)})
        return {"planned": len(segments)}
    return _scan(archive_segment(event))


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
