"""API key records in the jobs table.

Item: pk = APIKEY#<sha256 of the value>, sk = APIKEY; gsi1pk = APIKEYS, gsi1sk = <key_id> so an operator
can find a key by its id. The value itself is never stored, except a tenant's usage key's (pk =
TENANT#<tenant>, sk = USAGEKEY): the authorizer hands it to API Gateway for token callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.config import GSI1
from jobsched.errors import NotFound
from jobsched.keys.models import ApiKeyRecord, KeyStatus, TenantUsageKey
from jobsched.keyscheme import KEYS_INDEX_PK, api_key_item_key, usage_key_item_key

_RECORD_FIELDS = set(ApiKeyRecord.model_fields)


class DynamoKeyStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, record: ApiKeyRecord, key_hash: str) -> None:
        item = {
            **api_key_item_key(key_hash),
            "gsi1pk": KEYS_INDEX_PK,
            "gsi1sk": record.key_id,
            "entity": "api_key",
            **record.model_dump(mode="json"),
        }
        self._client.put_item(
            TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        response = self._client.get_item(TableName=self._table, Key=to_item(api_key_item_key(key_hash)))
        item = response.get("Item")
        return _record(from_item(item)) if item else None

    def get(self, key_id: str) -> ApiKeyRecord | None:
        item = self._find(key_id)
        return _record(item) if item else None

    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": GSI1,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": KEYS_INDEX_PK}),
        }
        if tenant is not None:
            query["FilterExpression"] = "tenant = :tenant"
            query["ExpressionAttributeValues"] = to_item({":pk": KEYS_INDEX_PK, ":tenant": tenant})
        records: list[ApiKeyRecord] = []
        for page in self._client.get_paginator("query").paginate(**query):
            records.extend(_record(from_item(item)) for item in page["Items"])
        return records

    def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord:
        item = self._find(key_id)
        if item is None:
            raise NotFound(f"no API key with id {key_id}")
        response = self._client.update_item(
            TableName=self._table,
            Key=to_item({"pk": item["pk"], "sk": item["sk"]}),
            UpdateExpression="SET #status = :revoked, revoked_at = if_not_exists(revoked_at, :at)",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item({":revoked": KeyStatus.REVOKED.value, ":at": at.isoformat()}),
            ReturnValues="ALL_NEW",
        )
        return _record(from_item(response["Attributes"]))

    def put_usage_key(self, usage: TenantUsageKey) -> None:
        item = {**usage_key_item_key(usage.tenant), "entity": "usage_key"}
        self._client.put_item(TableName=self._table, Item=to_item(item | usage.model_dump(mode="json")))

    def get_usage_key(self, tenant: str) -> TenantUsageKey | None:
        response = self._client.get_item(TableName=self._table, Key=to_item(usage_key_item_key(tenant)))
        item = response.get("Item")
        if not item:
            return None
        fields = set(TenantUsageKey.model_fields)
        return TenantUsageKey.model_validate({k: v for k, v in from_item(item).items() if k in fields})

    def _find(self, key_id: str) -> dict[str, Any] | None:
        response = self._client.query(
            TableName=self._table,
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :id",
            ExpressionAttributeValues=to_item({":pk": KEYS_INDEX_PK, ":id": key_id}),
        )
        items = response.get("Items", [])
        return from_item(items[0]) if items else None


def _record(item: dict[str, Any]) -> ApiKeyRecord:
    return ApiKeyRecord.model_validate({k: v for k, v in item.items() if k in _RECORD_FIELDS})
