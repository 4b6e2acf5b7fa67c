"""Bulk pause/resume operations in the jobs table, and the bulk queue their pages travel on.

An operation is one item in its tenant's partition (keyscheme.bulk_operation_key) that expires 7 days after it
started (the table's TTL). Each recorded page replaces the item under a condition on the page count it read
and on the operation still running, so two deliveries of one page never both count it.
"""

from __future__ import annotations

import json
from typing import Any

from jobsched import config
from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keyscheme import bulk_operation_key
from jobsched.scheduling.bulk import BulkOperation, BulkOperationRecord, BulkPageMessage, BulkStatus


class DynamoBulkOperationStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, tenant: str, operation_id: str) -> BulkOperationRecord | None:
        response = self._client.get_item(
            TableName=self._table, Key=to_item(bulk_operation_key(tenant, operation_id)), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        return BulkOperationRecord(
            tenant=str(item["tenant"]),
            operation=BulkOperation.model_validate_json(str(item["operation"])),
            caller={str(k): str(v) for k, v in dict(item["caller"]).items()},
            pages_done=int(item["pages_done"]),
            cursor=str(item["cursor"]) if item.get("cursor") is not None else None,
        )

    def create(self, record: BulkOperationRecord) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_item(self._item(record)),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def save(self, record: BulkOperationRecord, *, pages_done_before: int) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(self._item(record)),
                ConditionExpression="pages_done = :before AND op_status = :running",
                ExpressionAttributeValues=to_item(
                    {":before": pages_done_before, ":running": BulkStatus.RUNNING.value}
                ),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _item(self, record: BulkOperationRecord) -> dict[str, Any]:
        operation = record.operation
        return {
            **bulk_operation_key(record.tenant, operation.operation_id),
            "tenant": record.tenant,
            # The view as one JSON document: read back whole, never queried by its fields.
            "operation": operation.model_dump_json(),
            "op_status": operation.status.value,
            "caller": record.caller,
            "pages_done": record.pages_done,
            "cursor": record.cursor,
            config.TTL_ATTRIBUTE: int(record.expires_at.timestamp()),
        }


class SqsBulkQueue:
    def __init__(self, client: Any, queue_name: str = config.BULK_QUEUE) -> None:
        self._client = client
        self._queue_name = queue_name
        self._url: str | None = None

    def send(self, message: BulkPageMessage) -> None:
        if self._url is None:
            self._url = str(self._client.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(message.model_dump()))
