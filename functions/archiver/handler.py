"""Daily archiver: executions the table's TTL removes within two days, copied to this region's bucket.

Invoked by a daily rule once per scan segment ({"segment": i, "total_segments": n}); each invocation scans
its segment of this region's executions table and merges every job's expiring executions into the job's
day objects (jobsched.execution.archive). The TTL then deletes them from the table, at no cost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobsched.aws.clients import client, deferred_client
from jobsched.execution.adapters.archive_store import archive_store, scan_executions
from jobsched.execution.archive import ExecutionArchive, archive_items, expiring_before
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_handler, logger

SETTINGS = load_settings()
ARCHIVE = ExecutionArchive(
    archive_store(SETTINGS, SETTINGS.region, deferred_client("s3"), deferred_client("sts"))
)
MAX_SEGMENTS = 1000


def _segment(event: dict[str, Any]) -> tuple[int, int]:
    """The scan segment the rule's input names; anything else is refused (it would scan nothing useful)."""
    segment, total = event.get("segment", 0), event.get("total_segments", 1)
    if not (isinstance(segment, int) and isinstance(total, int) and 0 <= segment < total <= MAX_SEGMENTS):
        raise ValueError(f"bad archive segment {segment!r} of {total!r}")
    return segment, total


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    segment, total = _segment(event)
    items = scan_executions(
        client("dynamodb"),
        SETTINGS.executions_table,
        segment=segment,
        total_segments=total,
        expires_before=expiring_before(datetime.now(UTC)),
    )
    run = archive_items(ARCHIVE, items)
    logger.info("archived", extra={"executions": run.executions, "jobs": run.jobs, "segment": segment})
    return {"executions": run.executions, "jobs": run.jobs, "segment": segment}
