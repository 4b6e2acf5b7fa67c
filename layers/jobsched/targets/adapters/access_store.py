"""What operators granted each tenant for AWS targets, in the jobs table.

A partition of its own per tenant, pk = ACCESS#<tenant> (not TENANT#<tenant>; jobsched.keyscheme), so
the functions serving tenants' requests may read it but IAM lets none of them write it (only operators,
with the CLI):
- profile:     sk = PROFILE          (role_arn: the tenant's target role, assumed with ExternalId = tenant)
- allow-list:  sk = TARGET#<arn>     (one item per ARN the tenant's jobs may call with the executor's role)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobsched.aws.dynamodb import from_item, to_item
from jobsched.keyscheme import ACCESS_PROFILE_SK, ACCESS_TARGET_PREFIX, access_pk, access_target_sk

if TYPE_CHECKING:
    from jobsched.targets.access import TenantAccess

MAX_BATCH_ROUNDS = 3


class AccessUnreadable(Exception):
    """DynamoDB kept the keys unprocessed (throttling): transient, the caller's retry reads them again."""


class DynamoTargetAccessStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def access(self, tenant: str, arn: str) -> TenantAccess:
        """The tenant's role and whether `arn` is on its allow-list: one BatchGetItem of both items."""
        from jobsched.targets.access import TenantAccess  # only AWS targets are checked (Job API: lazily)

        keys = [self._key(tenant, ACCESS_PROFILE_SK), self._key(tenant, access_target_sk(arn))]
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        items: list[dict[str, Any]] = []
        for _ in range(MAX_BATCH_ROUNDS):
            response = self._client.batch_get_item(RequestItems=request)
            items += [from_item(item) for item in response.get("Responses", {}).get(self._table, [])]
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise AccessUnreadable(f"the target access of tenant {tenant} could not be read (throttled)")
        role = next((item.get("role_arn") for item in items if item.get("sk") == ACCESS_PROFILE_SK), None)
        listed = any(item.get("sk") == access_target_sk(arn) for item in items)
        return TenantAccess(role_arn=role if isinstance(role, str) else None, allow_listed=listed)

    def set_role(self, tenant: str, role_arn: str | None, at: datetime) -> None:
        if role_arn is None:
            self._client.delete_item(TableName=self._table, Key=self._key(tenant, ACCESS_PROFILE_SK))
            return
        item = {
            "pk": access_pk(tenant),
            "sk": ACCESS_PROFILE_SK,
            "entity": "tenant_profile",
            "tenant": tenant,
            "role_arn": role_arn,
            "updated_at": at.isoformat(),
        }
        self._client.put_item(TableName=self._table, Item=to_item(item))

    def role(self, tenant: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(tenant, ACCESS_PROFILE_SK), ConsistentRead=True
        )
        role = from_item(response.get("Item", {})).get("role_arn")
        return role if isinstance(role, str) else None

    def allow(self, tenant: str, arn: str, at: datetime) -> None:
        item = {
            "pk": access_pk(tenant),
            "sk": access_target_sk(arn),
            "entity": "target_allowed",
            "tenant": tenant,
            "arn": arn,
            "added_at": at.isoformat(),
        }
        self._client.put_item(TableName=self._table, Item=to_item(item))

    def deny(self, tenant: str, arn: str) -> bool:
        """Take `arn` off the allow-list; False if it was not on it."""
        response = self._client.delete_item(
            TableName=self._table, Key=self._key(tenant, access_target_sk(arn)), ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def allowed(self, tenant: str) -> Iterator[str]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": access_pk(tenant), ":prefix": ACCESS_TARGET_PREFIX}),
            "ConsistentRead": True,
        }
        while True:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                yield str(from_item(item)["arn"])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _key(self, tenant: str, sk: str) -> dict[str, Any]:
        return to_item({"pk": access_pk(tenant), "sk": sk})
