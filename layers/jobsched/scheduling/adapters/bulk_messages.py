"""The bulk queue's messages into the bulk service: parse (the queue is an edge), process, give up at last.

A body that is not a page message the service made is logged and dropped (returning deletes it), never
retried. A page that raises is retried by SQS; on its BULK_MAX_RECEIVES-th delivery the operation is ended
as failed with the error instead, so a user polling it sees why rather than a count that stopped moving.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError

from jobsched import config
from jobsched.scheduling.bulk import BulkControl, BulkPageMessage, PageOutcome

LOG = logging.getLogger(__name__)


def handle_bulk_record(bulk: BulkControl, body: str, receive_count: int) -> PageOutcome | None:
    """One SQS record; None when its body was rejected. Raises (so SQS redelivers) while retries remain."""
    try:
        message = BulkPageMessage.model_validate_json(body)
    except ValidationError as exc:
        LOG.warning("bulk worker: rejected a message that is no bulk page: %s", exc.errors()[:3])
        return None
    try:
        return bulk.process(message, redelivered=receive_count > 1)
    except Exception as exc:
        if receive_count < config.BULK_MAX_RECEIVES:
            raise
        LOG.exception(
            "bulk worker: page %d of %s failed on its last delivery", message.page, message.operation_id
        )
        bulk.give_up(message, f"page {message.page} failed {receive_count} times: {exc}")
        return PageOutcome.GONE
