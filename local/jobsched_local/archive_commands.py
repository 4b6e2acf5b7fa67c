"""`jobsched archive run --older-than 30d`: archive execution history now, as the archiver does on AWS.

On AWS the table's TTL removes executions after 30 days and the archiver (functions/archiver) copies them
to the region's bucket on the two days before. DynamoDB Local expires nothing, so locally this command does
both: it writes the executions scheduled before the cutoff into the archive folder (the buckets' layout),
then deletes them from the table. The Executions API then reads them from the archive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobsched import config
from jobsched.execution.adapters.archive_store import FolderArchiveStore, delete_executions, scan_executions
from jobsched.execution.archive import ExecutionArchive, archive_items

ARCHIVE_FOLDER = "archive"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def archive_dir(state_dir: Path) -> Path:
    """The local runtime's archive folder, under its state folder."""
    return state_dir.resolve() / ARCHIVE_FOLDER


def parse_age(value: str) -> timedelta:
    """`30d`, `12h`, `15m`, `0s`: how old an execution must be to be archived."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not an age like 30d, 12h, 15m or 0s")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def run_archive(
    dynamodb: Any, state_dir: Path, older_than: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Archive (and remove from the table) executions scheduled more than `older_than` ago.

    Returns (executions archived, jobs they belong to). Executions still running are left in the table.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    cutoff_iso = cutoff.astimezone(UTC).isoformat().replace("+00:00", "Z")
    items = [
        item
        for item in scan_executions(dynamodb, config.EXECUTIONS_TABLE, scheduled_before=cutoff_iso)
        if item.get("status") != "running"
    ]
    items.sort(key=lambda item: (str(item["tenant"]), str(item["job_id"])))
    run = archive_items(ExecutionArchive(FolderArchiveStore(archive_dir(state_dir))), items)
    delete_executions(dynamodb, config.EXECUTIONS_TABLE, items)
    return run.executions, run.jobs
