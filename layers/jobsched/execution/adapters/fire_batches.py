"""The executor's SQS event: every record run at once, each in a worker thread; SQS's partial batch response.

`handle_fire_batch` is what Powertools' `AsyncBatchProcessor` with `async_process_partial_response` did for
the executor (each record's call in a worker thread, all of a batch at once, so ten slow targets do not add
up past the function timeout): the records that raised are listed as `batchItemFailures`, in the order of
the batch, so SQS redelivers just those; when every record of a non-empty batch raised, the invocation
fails instead, as Powertools' processor does. It is these few lines rather than the utility, whose import
(asyncio, and every Powertools event data class through its stream record types) was a sixth of the
executor's cold start (docs/decisions.md, "The executor answers SQS's partial batch response itself").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobsched.aws.sqs_batches import BatchResponse, ItemFailure

LOG = logging.getLogger(__name__)


class BatchFailed(Exception):
    """Every record of the batch raised: the invocation fails, and SQS delivers the whole batch again."""


def handle_fire_batch(event: Mapping[str, Any], run_record: Callable[[str], object]) -> BatchResponse:
    """Run ``run_record(body)`` for every record of the SQS event concurrently; list the ones that raised."""
    records = list(event.get("Records", []))
    if not records:
        return {"batchItemFailures": []}
    with ThreadPoolExecutor(max_workers=len(records), thread_name_prefix="fire") as pool:
        calls = [pool.submit(run_record, record["body"]) for record in records]
        raised = [call.exception() for call in calls]
    failures: list[ItemFailure] = []
    for record, error in zip(records, raised, strict=True):
        if error is not None:
            LOG.error(
                "executor: message %s failed; SQS delivers it again",
                record["messageId"],
                exc_info=(type(error), error, error.__traceback__),
            )
            failures.append({"itemIdentifier": record["messageId"]})
    if len(failures) == len(records):
        raise BatchFailed(f"all {len(records)} records of the batch failed") from raised[-1]
    return {"batchItemFailures": failures}
