"""OAuth client records in the jobs table (jobsched.keyscheme).

Item: pk = CLIENT#<client_id>, sk = CLIENT; gsi1pk = CLIENTS, gsi1sk = <client_id> so clients can be
listed. `secret_hash` is the SHA-256 of the client's secret (the local issuer checks it; never returned).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.config import GSI1
from jobsched.errors import NotFound
from jobsched.keys.clients import ClientRecord
from jobsched.keys.models import KeyStatus
from jobsched.keyscheme import CLIENTS_INDEX_PK, client_item_key

_RECORD_FIELDS = set(ClientRecord.model_fields)


class DynamoClientStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, record: ClientRecord, secret_hash: str) -> None:
        item = {
            **client_item_key(record.client_id),
            "gsi1pk": CLIENTS_INDEX_PK,
            "gsi1sk": record.client_id,
            "entity": "oauth_client",
            "secret_hash": secret_hash,
            **record.model_dump(mode="json"),
        }
        self._client.put_item(
            TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def _item(self, client_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=to_item(client_item_key(client_id)))
        item = response.get("Item")
        return from_item(item) if item else None

    def get(self, client_id: str) -> ClientRecord | None:
        item = self._item(client_id)
        return _record(item) if item else None

    def secret_hash(self, client_id: str) -> str | None:
        item = self._item(client_id)
        return str(item["secret_hash"]) if item and "secret_hash" in item else None

    def list(self, tenant: str | None = None) -> list[ClientRecord]:
        values: dict[str, Any] = {":pk": CLIENTS_INDEX_PK}
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": "gsi1pk = :pk",
        }
        if tenant is not None:
            query["FilterExpression"] = "tenant = :tenant"
            values[":tenant"] = tenant
        query["ExpressionAttributeValues"] = to_item(values)
        records: list[ClientRecord] = []
        for page in self._client.get_paginator("query").paginate(**query):
            records.extend(_record(from_item(item)) for item in page["Items"])
        return records

    def mark_revoked(self, client_id: str, at: datetime) -> ClientRecord:
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=to_item(client_item_key(client_id)),
                UpdateExpression="SET #status = :revoked, revoked_at = if_not_exists(revoked_at, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":revoked": KeyStatus.REVOKED.value, ":at": at.isoformat()}
                ),
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            raise NotFound(f"no client with id {client_id}") from None
        return _record(from_item(response["Attributes"]))


def _record(item: dict[str, Any]) -> ClientRecord:
    return ClientRecord.model_validate({k: v for k, v in item.items() if k in _RECORD_FIELDS})
