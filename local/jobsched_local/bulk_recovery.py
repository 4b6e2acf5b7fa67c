"""Bulk operations left running by the previous run of the local runtime: their next page is queued again.

The bulk queue is moto's, in memory: a kill between a bulk request's 202 (or a page recorded) and the worker
taking the next page would leave the operation `running` for ever. At start, every operation item still
running names the page to do next (`pages_done`), so one message per operation carries on from there. A page
already done is not counted twice (its message finds the page recorded), so a message that did survive
(none does in moto) would be harmless too.
"""

from __future__ import annotations

import logging
from typing import Any

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keyscheme import BULK_OPERATION_PREFIX, TENANT_PREFIX
from jobsched.scheduling.adapters.bulk_store import SqsBulkQueue
from jobsched.scheduling.bulk import BulkPageMessage, BulkStatus

LOG = logging.getLogger(__name__)


def running_operations(dynamodb: Any, table: str = config.JOBS_TABLE) -> list[BulkPageMessage]:
    """The next page of every running bulk operation (a Scan: once, at start, on one machine's table)."""
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :tenant) AND begins_with(sk, :op) AND op_status = :running",
        "ProjectionExpression": "tenant, sk, pages_done",
        "ExpressionAttributeValues": to_item(
            {":tenant": TENANT_PREFIX, ":op": BULK_OPERATION_PREFIX, ":running": BulkStatus.RUNNING.value}
        ),
        "ConsistentRead": True,
    }
    found: list[BulkPageMessage] = []
    for page in dynamodb.get_paginator("scan").paginate(**request):
        for item in page.get("Items", []):
            plain = from_item(item)
            found.append(
                BulkPageMessage(
                    tenant=str(plain["tenant"]),
                    operation_id=str(plain["sk"]).removeprefix(BULK_OPERATION_PREFIX),
                    page=int(plain["pages_done"]),
                )
            )
    return found


def resume_bulk_operations(dynamodb: Any, sqs: Any) -> int:
    """Queue the next page of every running operation; returns how many were resumed."""
    queue = SqsBulkQueue(sqs)
    messages = running_operations(dynamodb)
    for message in messages:
        queue.send(message)
    if messages:
        LOG.info("bulk operations resumed after a restart: %d", len(messages))
    return len(messages)
