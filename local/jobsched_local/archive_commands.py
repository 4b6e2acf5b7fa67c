"""The local runtime's archive: a folder under its state folder, filled as the archiver fills the buckets.

On AWS the table's TTL removes executions after 30 days and the archiver (functions/archiver) copies them
to the region's bucket in the days before. Locally the executions table has no TTL (provision.py,
`expires_locally`): the runtime's archive pass (`archive_expired`, at start and then daily) writes every
execution whose TTL is due into the archive folder (the buckets' layout), then deletes it from the table,
so history is never deleted unarchived however long the runtime was stopped. `jobsched archive run
--older-than 30d` does the same now for executions scheduled before a cutoff of your choice. The
Executions API then reads them from the archive.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobsched import config
from jobsched.execution.adapters.archive_store import FolderArchiveStore, delete_executions, scan_executions
from jobsched.execution.archive import ExecutionArchive, archive_items

ARCHIVE_FOLDER = "archive"
LOCK_FILE = ".lock"
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
    return _archive(
        dynamodb, state_dir, scan_executions(dynamodb, config.EXECUTIONS_TABLE, scheduled_before=cutoff_iso)
    )


def archive_expired(dynamodb: Any, state_dir: Path, now: datetime) -> tuple[int, int]:
    """The runtime's archive pass, in place of the executions table's TTL: archive, then remove from the
    table, every execution whose `expires_at` has passed. Returns (executions archived, jobs)."""
    expired = scan_executions(dynamodb, config.EXECUTIONS_TABLE, expires_before=int(now.timestamp()))
    return _archive(dynamodb, state_dir, expired)


def _archive(dynamodb: Any, state_dir: Path, scanned: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Archive the finished executions of a scan, then delete them from the table (in that order: an
    interrupted run leaves an execution in both places, never in neither)."""
    folder = archive_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # One run at a time (the runtime's pass and `jobsched archive run`): a day object is read, merged and
    # written back, and two runs merging into it at once could each drop what the other added.
    with (folder / LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        items = [item for item in scanned if item.get("status") != "running"]
        items.sort(key=lambda item: (str(item["tenant"]), str(item["job_id"])))
        run = archive_items(ExecutionArchive(FolderArchiveStore(folder)), items)
        delete_executions(dynamodb, config.EXECUTIONS_TABLE, items)
    return run.executions, run.jobs
