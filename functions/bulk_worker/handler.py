"""Bulk worker: the bulk queue's page messages; each does one page of a bulk pause/resume. Thin."""

from __future__ import annotations

import gc

gc.disable()  # on again at the end: docs/decisions.md, "No garbage collection while a function starts"

from typing import Any

from jobsched.aws.clients import deferred_client
from jobsched.config import BULK_QUEUE, EXECUTION_QUEUE
from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.scheduling.adapters.bulk_messages import BatchResponse, handle_bulk_batch
from jobsched.scheduling.adapters.bulk_store import DynamoBulkOperationStore, SqsBulkQueue
from jobsched.scheduling.adapters.job_schedule_store import DynamoJobScheduleStore
from jobsched.scheduling.bulk import BulkControl
from jobsched.scheduling.control import ScheduleControl
from jobsched.settings import load_settings
from jobsched.telemetry import instrument_handler

SETTINGS = load_settings()
JOBS = DynamoJobScheduleStore(deferred_client("dynamodb"), SETTINGS.jobs_table)
BULK = BulkControl(
    ScheduleControl(
        JOBS,
        SETTINGS.region,
        catch_up_queue=SqsFireQueue(deferred_client("sqs"), EXECUTION_QUEUE),  # a resume's missed fires
    ),
    JOBS,
    DynamoBulkOperationStore(deferred_client("dynamodb"), SETTINGS.jobs_table),
    SqsBulkQueue(deferred_client("sqs"), BULK_QUEUE),
)


@instrument_handler
def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    return handle_bulk_batch(BULK, event)


# Started: what the start made lives as long as the function, so the collector leaves it alone.
gc.freeze()
gc.enable()
