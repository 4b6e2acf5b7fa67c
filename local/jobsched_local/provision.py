"""What the CDK stacks create, created in moto: the two tables, and per region the REST API and usage plans.

Every step first looks for what it would create, so provisioning twice is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from jobsched import config, tables
from jobsched.tables import TableDefinition
from jobsched_local.routes import ROUTES, Route
from jobsched_local.scheduling_provision import provision_scheduling


def provision(serving_region: str, regions: Sequence[str]) -> dict[str, str]:
    """Create the tables in the serving region and the API in every region; returns region -> REST API id."""
    dynamodb = boto3.client("dynamodb", region_name=serving_region)
    for table in tables.TABLES:
        ensure_table(dynamodb, table, expire_items=expires_locally(table))
    # Schedule group, execution queue and the DLQs in every region, as the regional stacks create them.
    provision_scheduling(regions, lambda service, region: boto3.client(service, region_name=region))
    return {region: ensure_api(boto3.client("apigateway", region_name=region)) for region in regions}


def expires_locally(table: TableDefinition) -> bool:
    """Whether DynamoDB Local deletes the table's items on their TTL, as DynamoDB does (a few every ten
    seconds once they are due). Not the executions table's: there the local runtime's archive pass stands in
    for the TTL (archive_commands.archive_expired), archiving each execution before deleting it. On AWS the
    archiver copies history days ahead of the TTL; a local runtime can be stopped for longer than that, and
    DynamoDB Local's TTL would then delete history the archive never got."""
    return table.name != config.EXECUTIONS_TABLE


def ensure_table(client: Any, table: TableDefinition, *, expire_items: bool = True) -> None:
    """The table as jobsched.tables declares it (the same definition the CDK data stack builds from), with
    its TTL on or off as `expire_items` says (a table made by an earlier version is switched too)."""
    if table.name not in client.list_tables()["TableNames"]:
        client.create_table(**table.create_table_request())
        client.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1})
    ttl = client.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
    if (ttl.get("TimeToLiveStatus") == "ENABLED") != expire_items:
        client.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={"Enabled": expire_items, "AttributeName": table.ttl_attribute},
        )


def ensure_api(client: Any) -> str:
    """The REST API (routes, authorizer), a deployed stage, and the tiers' usage plans on that stage."""
    api_id = _find_api(client) or client.create_rest_api(name=config.rest_api_name())["id"]
    ensure_routes(client, api_id)
    stages = {stage["stageName"] for stage in client.get_stages(restApiId=api_id)["item"]}
    if config.API_STAGE not in stages:
        client.create_deployment(restApiId=api_id, stageName=config.API_STAGE)
    for tier in config.Tier:
        ensure_usage_plan(client, api_id, tier)
    return str(api_id)


def ensure_routes(client: Any, api_id: str, routes: Sequence[Route] = ROUTES) -> None:
    """Resources and methods as the gateway serves them; key-checked ones go through the REQUEST authorizer.

    The gateway stand-in routes by the same table; these exist so the emulated API can be deployed and
    inspected (aws apigateway get-resources) like the real one.
    """
    authorizer_id = _ensure_authorizer(client, api_id)
    resources = {r["path"]: r for r in client.get_resources(restApiId=api_id, limit=500)["items"]}
    for route in routes:
        resource = _ensure_resource(client, api_id, route.resource, resources)
        if route.method in resource.get("resourceMethods", {}):
            continue
        custom = {"authorizationType": "CUSTOM", "authorizerId": authorizer_id} if route.key_required else {}
        client.put_method(
            restApiId=api_id,
            resourceId=resource["id"],
            httpMethod=route.method,
            apiKeyRequired=route.key_required,
            **({"authorizationType": "NONE"} | custom),
        )
        client.put_integration(
            restApiId=api_id, resourceId=resource["id"], httpMethod=route.method, type="MOCK"
        )
        resource.setdefault("resourceMethods", {})[route.method] = {}


def _ensure_resource(client: Any, api_id: str, path: str, resources: dict[str, Any]) -> dict[str, Any]:
    if path in resources:
        found: dict[str, Any] = resources[path]
        return found
    parent_path, _, part = path.rpartition("/")
    parent = _ensure_resource(client, api_id, parent_path or "/", resources)
    created: dict[str, Any] = client.create_resource(restApiId=api_id, parentId=parent["id"], pathPart=part)
    resources[path] = created
    return created


def _ensure_authorizer(client: Any, api_id: str) -> str:
    name = f"{config.SERVICE}-authorizer"
    for authorizer in client.get_authorizers(restApiId=api_id)["items"]:
        if authorizer["name"] == name:
            return str(authorizer["id"])
    created = client.create_authorizer(
        restApiId=api_id,
        name=name,
        type="REQUEST",
        identitySource=f"method.request.header.{config.API_KEY_HEADER}",
        authorizerUri="arn:aws:apigateway:local:lambda:path/2015-03-31/functions/authorizer/invocations",
        authorizerResultTtlInSeconds=config.AUTHORIZER_CACHE_SECONDS,
    )
    return str(created["id"])


def ensure_usage_plan(client: Any, api_id: str, tier: config.Tier) -> None:
    limits = config.TIERS[tier]
    name = config.usage_plan_name(tier)
    plans = [p for p in client.get_usage_plans(limit=500)["items"] if p["name"] == name]
    if not plans:
        client.create_usage_plan(
            name=name,
            description=f"{tier.value} tier: {limits.requests_per_hour} requests per hour",
            apiStages=[{"apiId": api_id, "stage": config.API_STAGE}],
            throttle={"rateLimit": limits.rate_per_second, "burstLimit": limits.burst},
            quota={"limit": limits.daily_quota, "period": "DAY", "offset": 0},
        )
        return
    plan = plans[0]
    if not any(s["apiId"] == api_id and s["stage"] == config.API_STAGE for s in plan.get("apiStages", [])):
        client.update_usage_plan(
            usagePlanId=plan["id"],
            patchOperations=[{"op": "add", "path": "/apiStages", "value": f"{api_id}:{config.API_STAGE}"}],
        )


def _find_api(client: Any) -> str | None:
    for api in client.get_rest_apis(limit=500)["items"]:
        if api["name"] == config.rest_api_name():
            return str(api["id"])
    return None
