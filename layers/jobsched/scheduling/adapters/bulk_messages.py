"""The bulk queue's messages into the bulk service: parse (the queue is an edge), process, give up at last.

A body that is not a page message the service made is logged and dropped (returning deletes it), never
retried. A page that raises is retried by SQS; on its BULK_MAX_RECEIVES-th delivery the operation is ended
as failed with the error instead, so a user polling it sees why rather than a count that stopped moving.

`handle_bulk_batch` is the SQS event's partial batch response (the event source reports batch item
failures): the records that raised are listed, so SQS redelivers just those. It is these few lines rather
than Powertools' batch utility, whose import (asyncio and every event data class) was a sixth of the
worker's cold start (docs/decisions.md).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from jobsched import config
from jobsched.aws.sqs_batches import BatchResponse as BatchResponse
from jobsched.aws.sqs_batches import ItemFailure
from jobsched.scheduling.bulk import BulkControl, BulkPageMessage, PageOutcome

LOG = logging.getLogger(__name__)


def handle_bulk_batch(bulk: BulkControl, event: Mapping[str, Any]) -> BatchResponse:
    """An SQS event of page messages, record by record; the ones that raised come back as item failures."""
    failures: list[ItemFailure] = []
    for record in event.get("Records", []):
        try:
            handle_bulk_record(bulk, record["body"], int(record["attributes"]["ApproximateReceiveCount"]))
        except Exception:
            LOG.exception("bulk worker: message %s failed; SQS delivers it again", record["messageId"])
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


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
