"""The archive queue (SQS): one message per scan segment of an archive run, sent ten to a request."""

from __future__ import annotations

from typing import Any

from jobsched import config
from jobsched.execution.archive import ArchiveSegment

BATCH = 10  # SendMessageBatch's limit
ATTEMPTS = 3  # entries SQS failed (internal errors) are sent again, up to this many times in all


class SqsSegmentQueue:
    def __init__(self, client: Any, queue_name: str = config.ARCHIVE_QUEUE) -> None:
        self._client = client
        self._queue_name = queue_name
        self._url: str | None = None

    def send(self, segments: list[ArchiveSegment]) -> None:
        """Queue every segment; raises if SQS refused any (a retried plan sends them all again, and a segment
        scanned twice archives nothing twice: the objects merge by execution id)."""
        if self._url is None:
            self._url = str(self._client.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        for start in range(0, len(segments), BATCH):
            entries = [
                {"Id": str(segment.segment), "MessageBody": segment.message()}
                for segment in segments[start : start + BATCH]
            ]
            for _ in range(ATTEMPTS):
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                failed = {str(entry["Id"]) for entry in response.get("Failed") or []}
                entries = [entry for entry in entries if entry["Id"] in failed]
                if not entries:
                    break
            else:
                raise RuntimeError(f"the archive queue refused segment messages {sorted(failed)}")
