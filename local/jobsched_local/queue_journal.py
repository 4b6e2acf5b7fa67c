"""A durable journal of the messages the API put on the execution queue, which is moto's and in memory.

A run-now or a retry is answered 202 once its message is on the execution queue. Locally that queue lives
in the runtime's memory, so a kill -9 between the answer and the executor's claim would lose the run.
The API functions reach SQS through the runtime's AWS endpoint (aws_router.py); the router hands every
SendMessage to the execution queue that the queue accepted to `QueueJournal.record`, which appends it to
<state-dir>/execution-queue.journal and fsyncs before the answer goes back. So an answered message is on
disk before the 202 leaves the gateway.

At start, before the executor polls, `replay` sends again every journaled message whose execution has no
record yet (the executor claims by execution id, so a message that did run is never run twice), and the
journal is compacted: an entry stays until its execution has a record (from then on the record is what
restart recovery works from, execution_recovery.py) or it is older than KEEP_UNCLAIMED (a message the
executor rejected, e.g. of a job deleted meanwhile, never gets a record).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobsched import config
from jobsched.aws.dynamodb import to_item
from jobsched.execution.fire import FireMessage
from jobsched.keyscheme import JobKey, execution_item_key
from jobsched_local.durable_file import replace_durably

LOG = logging.getLogger(__name__)
JOURNAL_FILE = "execution-queue.journal"
SEND_MESSAGE_TARGET = "AmazonSQS.SendMessage"
KEEP_UNCLAIMED = timedelta(days=7)

Now = Callable[[], datetime]
# (tenant, job id, execution id) -> whether the executions table has a record of it
HasRecord = Callable[[JobKey, str], bool]


@dataclass(frozen=True)
class JournalEntry:
    body: str
    journaled_at: datetime

    def message(self) -> FireMessage | None:
        try:
            return FireMessage.model_validate_json(self.body)
        except ValueError:
            return None


class QueueJournal:
    """Append-only lines of JSON, fsynced one by one; rewritten atomically when compacted."""

    def __init__(self, path: Path, queue_name: str = config.EXECUTION_QUEUE, now: Now | None = None) -> None:
        self._path = path
        self._queue_suffix = "/" + queue_name
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._file: Any = None
        self._entries, torn = _read(path)
        if torn:
            self._rewrite()  # so the next append starts on a line of its own

    @property
    def entries(self) -> list[JournalEntry]:
        with self._lock:
            return list(self._entries)

    def record(self, target: str | None, body: bytes) -> None:
        """Keep an accepted SendMessage if it went to the execution queue (the router's hook)."""
        if target != SEND_MESSAGE_TARGET:
            return
        try:
            request = json.loads(body)
            queue_url = str(request["QueueUrl"])
            message_body = str(request["MessageBody"])
        except (ValueError, KeyError, TypeError):
            return
        if not queue_url.endswith(self._queue_suffix):
            return
        entry = JournalEntry(message_body, self._now())
        line = json.dumps({"body": entry.body, "journaled_at": entry.journaled_at.isoformat()}) + "\n"
        with self._lock:
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._path.open("a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._entries.append(entry)

    def replay(self, has_record: HasRecord, send: Callable[[str], None]) -> int:
        """Send again each journaled message that never made an execution record; returns how many."""
        sent = 0
        for entry in self.compact(has_record):
            send(entry.body)
            sent += 1
            message = entry.message()
            LOG.warning(
                "execution %s was queued before the restart and never ran; sent it again",
                message.effective_execution_id if message else "?",
            )
        return sent

    def compact(self, has_record: HasRecord) -> list[JournalEntry]:
        """Drop the entries whose execution has a record (or that are too old); returns those kept."""
        snapshot = self.entries
        oldest = self._now() - KEEP_UNCLAIMED
        done: set[int] = set()
        for entry in snapshot:
            message = entry.message()
            if (
                message is None
                or entry.journaled_at < oldest
                or has_record(message.job, message.effective_execution_id)
            ):
                done.add(id(entry))
        with self._lock:
            self._entries = [entry for entry in self._entries if id(entry) not in done]
            if done:
                self._rewrite()
            return [entry for entry in snapshot if id(entry) not in done]

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _rewrite(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        lines = (
            json.dumps({"body": entry.body, "journaled_at": entry.journaled_at.isoformat()}) + "\n"
            for entry in self._entries
        )
        replace_durably(self._path, "".join(lines), prefix=".journal-")


def _read(path: Path) -> tuple[list[JournalEntry], bool]:
    """The entries, and whether the file ends in a line torn by a crash mid-write."""
    if not path.exists():
        return [], False
    text = path.read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        try:
            raw = json.loads(line)
            entries.append(JournalEntry(str(raw["body"]), datetime.fromisoformat(raw["journaled_at"])))
        except (ValueError, KeyError, TypeError):
            continue  # a line torn by a crash mid-write was never acknowledged
    return entries, bool(text) and not text.endswith("\n")


def execution_has_record(dynamodb: Any, table: str = config.EXECUTIONS_TABLE) -> HasRecord:
    def has_record(job: JobKey, execution_id: str) -> bool:
        response = dynamodb.get_item(
            TableName=table,
            Key=to_item(execution_item_key(job, execution_id)),
            ProjectionExpression="sk",
            ConsistentRead=True,
        )
        return bool(response.get("Item"))

    return has_record
