"""API keys in one region's API Gateway: the value registered in the usage plan of the key's tier.

Keys are named after our own key id (config.api_key_name), so the same key can be found and removed
in every region although each region gives it a different AWS id.
"""

from __future__ import annotations

from typing import Any

from jobsched.config import Tier, api_key_name, usage_plan_name
from jobsched.errors import NotFound


class ApiGatewayKeyRegistry:
    def __init__(self, client: Any, region: str) -> None:
        self._client = client
        self.region = region

    def register(self, key_id: str, value: str, tier: Tier) -> None:
        plan_id = self._usage_plan_id(tier)
        created = self._client.create_api_key(
            name=api_key_name(key_id), value=value, enabled=True, tags={"key_id": key_id}
        )
        try:
            self._client.create_usage_plan_key(usagePlanId=plan_id, keyId=created["id"], keyType="API_KEY")
        except Exception:
            self._client.delete_api_key(apiKey=created["id"])
            raise

    def deregister(self, key_id: str) -> None:
        for aws_key_id in self._aws_key_ids(key_id):
            self._client.delete_api_key(apiKey=aws_key_id)

    def _aws_key_ids(self, key_id: str) -> list[str]:
        name = api_key_name(key_id)
        ids: list[str] = []
        for page in self._client.get_paginator("get_api_keys").paginate(nameQuery=name):
            ids.extend(item["id"] for item in page.get("items", []) if item.get("name") == name)
        return ids

    def _usage_plan_id(self, tier: Tier) -> str:
        name = usage_plan_name(tier)
        for page in self._client.get_paginator("get_usage_plans").paginate():
            for plan in page.get("items", []):
                if plan.get("name") == name:
                    return str(plan["id"])
        raise NotFound(f"usage plan {name} does not exist in {self.region}; is the regional stack deployed?")
