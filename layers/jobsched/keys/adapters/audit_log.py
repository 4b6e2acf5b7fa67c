"""Audit records in the jobs table, under their tenant: pk = TENANT#<tenant>, sk = AUDIT#<audit_id>
(jobsched.keyscheme).

Audit ids begin with their time to the microsecond, so a descending query of the sort key lists the newest
first. The job store writes a job's deletion and webhook secret rotation in the same transaction as the
change itself, with `audit_item`.
"""

from __future__ import annotations

from typing import Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keys.admin import AuditRecord
from jobsched.keyscheme import AUDIT_PREFIX, audit_id_of, audit_sk, tenant_pk


def audit_item(tenant: str, record: AuditRecord) -> dict[str, Any]:
    """The record as a DynamoDB item of the tenant's audit trail."""
    item = {
        "pk": tenant_pk(tenant),
        "sk": audit_sk(record.audit_id),
        "entity": "audit",
        **record.model_dump(mode="json"),
    }
    return to_item(item)


class DynamoAuditLog:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def append(self, tenant: str, record: AuditRecord) -> None:
        self._client.put_item(TableName=self._table, Item=audit_item(tenant, record))

    def page(self, tenant: str, limit: int, start_after: str | None) -> tuple[list[AuditRecord], str | None]:
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": tenant_pk(tenant), ":prefix": AUDIT_PREFIX}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_after is not None:
            query["ExclusiveStartKey"] = to_item({"pk": tenant_pk(tenant), "sk": audit_sk(start_after)})
        response = self._client.query(**query)
        records = [AuditRecord.model_validate(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return records, (audit_id_of(from_item(last)["sk"]) if last else None)
