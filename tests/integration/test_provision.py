"""What provisioning creates in moto matches the stacks, and running it again changes nothing."""

from __future__ import annotations

from typing import Any

import boto3

from jobsched import config, tables
from jobsched_local.provision import ensure_table, provision

REGIONS = ("us-east-1", "eu-west-1")


def test_tables_have_the_data_stack_layout(empty_aws: None) -> None:
    provision("us-east-1", REGIONS)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    for name in (config.JOBS_TABLE, config.EXECUTIONS_TABLE):
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
        (index,) = table["GlobalSecondaryIndexes"]
        assert index["IndexName"] == config.GSI1
        assert index["Projection"]["ProjectionType"] == "ALL"
        assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert ttl_of(dynamodb, config.JOBS_TABLE) == ("ENABLED", config.TTL_ATTRIBUTE)
    # The local runtime's archive pass deletes executions, after archiving them (archive_commands.py).
    assert ttl_of(dynamodb, config.EXECUTIONS_TABLE)[0] == "DISABLED"
    assert boto3.client("dynamodb", region_name="eu-west-1").list_tables()["TableNames"] == []


def ttl_of(dynamodb: Any, table: str) -> tuple[str, str | None]:
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    return ttl["TimeToLiveStatus"], ttl.get("AttributeName")


def test_a_state_folder_whose_executions_expire_is_switched_to_the_archive_pass(empty_aws: None) -> None:
    """A table made by an earlier version had its TTL on: provisioning turns it off, and leaves it off."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    executions = next(table for table in tables.TABLES if table.name == config.EXECUTIONS_TABLE)
    ensure_table(dynamodb, executions, expire_items=True)
    assert ttl_of(dynamodb, config.EXECUTIONS_TABLE)[0] == "ENABLED"
    for _ in range(2):
        provision("us-east-1", REGIONS)
        assert ttl_of(dynamodb, config.EXECUTIONS_TABLE)[0] == "DISABLED"
        assert ttl_of(dynamodb, config.JOBS_TABLE) == ("ENABLED", config.TTL_ATTRIBUTE)


def test_every_region_has_the_api_stage_and_tier_plans(empty_aws: None) -> None:
    api_ids = provision("us-east-1", REGIONS)
    for region in REGIONS:
        client = boto3.client("apigateway", region_name=region)
        (api,) = client.get_rest_apis()["items"]
        assert (api["id"], api["name"]) == (api_ids[region], config.rest_api_name())
        assert [s["stageName"] for s in client.get_stages(restApiId=api["id"])["item"]] == [config.API_STAGE]
        paths = {r["path"] for r in client.get_resources(restApiId=api["id"])["items"]}
        assert {"/health", "/api/v1/jobs", "/api/v1/jobs/{job_id}", "/api/v1/{proxy+}"} <= paths
        plans = {p["name"]: p for p in client.get_usage_plans()["items"]}
        for tier, limits in config.TIERS.items():
            plan = plans[config.usage_plan_name(tier)]
            assert plan["apiStages"] == [{"apiId": api["id"], "stage": config.API_STAGE}]
            assert plan["throttle"] == {"rateLimit": limits.rate_per_second, "burstLimit": limits.burst}
            assert plan["quota"] == {"limit": limits.daily_quota, "period": "DAY", "offset": 0}


def test_provisioning_twice_creates_nothing_new(empty_aws: None) -> None:
    first = provision("us-east-1", REGIONS)
    assert provision("us-east-1", REGIONS) == first
    client = boto3.client("apigateway", region_name="us-east-1")
    assert len(client.get_rest_apis()["items"]) == 1
    assert len(client.get_usage_plans()["items"]) == len(config.TIERS)
    resources = client.get_resources(restApiId=first["us-east-1"])["items"]
    jobs = next(r for r in resources if r["path"] == "/api/v1/jobs")
    assert set(jobs["resourceMethods"]) == {"GET", "POST"}
