"""Each regional stack: API, stage, usage plans, authorizer, routes, functions, layers and IAM grants."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.stacks.regional_stack import regional_stack_name
from jobsched import config

API_V1_ROUTES = {
    ("GET", "/api/v1/jobs"),
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/{job_id}"),
    ("PUT", "/api/v1/jobs/{job_id}"),
    ("DELETE", "/api/v1/jobs/{job_id}"),
    ("ANY", "/api/v1/{proxy+}"),
    ("POST", "/api/v1/jobs/{job_id}/webhook-secret"),
}
EXECUTION_API_ROUTES = {
    ("GET", "/api/v1/executions/{job_id}"),
    ("GET", "/api/v1/executions/{job_id}/{execution_id}"),
    ("POST", "/api/v1/executions/{job_id}/retry"),
    ("POST", "/api/v1/jobs/{job_id}/run"),
    ("POST", "/api/v1/jobs/{job_id}/backfill"),
}
SCHEDULE_API_ROUTES = {
    ("GET", "/api/v1/schedule/status"),
    ("POST", "/api/v1/schedule/{job_id}"),
    ("DELETE", "/api/v1/schedule/{job_id}"),
}
HEALTH_ROUTE = ("GET", "/health")
DEEP_HEALTH_ROUTE = ("GET", "/health/deep")
FUNCTION_NAMES = ("Health", "Authorizer", "JobApi")


def _only(found: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    assert len(found) == 1, f"expected exactly one match, found {list(found)}"
    return next(iter(found.items()))


def _resource_paths(resources: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Logical id of every AWS::ApiGateway::Resource -> its full path, e.g. /api/v1/jobs."""
    parents = {
        logical_id: (resource["Properties"]["ParentId"], resource["Properties"]["PathPart"])
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::ApiGateway::Resource"
    }

    def path_of(logical_id: str) -> str:
        parent_ref, part = parents[logical_id]
        parent_id = parent_ref.get("Ref")
        return f"{path_of(parent_id) if parent_id in parents else ''}/{part}"

    return {logical_id: path_of(logical_id) for logical_id in parents}


def _routes(resources: dict[str, dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(HTTP method, path) -> the method's properties."""
    paths = _resource_paths(resources)
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        properties = resource["Properties"]
        path = paths.get(properties["ResourceId"].get("Ref"), "/")
        routes[(properties["HttpMethod"], path)] = properties
    return routes


def _function(resources: dict[str, dict[str, Any]], name: str) -> tuple[str, dict[str, Any]]:
    return _only(
        {
            logical_id: resource["Properties"]
            for logical_id, resource in resources.items()
            if resource["Type"] == "AWS::Lambda::Function"
            and logical_id.startswith(f"Functions{name}Function")
        }
    )


def _live_alias_id(resources: dict[str, dict[str, Any]], function_id: str) -> str:
    """Logical id of the `live` alias of a function (what API Gateway integrations must call)."""
    (alias_id,) = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Alias"
        and resource["Properties"]["FunctionName"] == {"Ref": function_id}
        and resource["Properties"]["Name"] == "live"
    ]
    return alias_id


def _role_statements(resources: dict[str, dict[str, Any]], function_name: str) -> list[dict[str, Any]]:
    _, function = _function(resources, function_name)
    role_id = function["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _dynamodb_statements(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def actions(statement: dict[str, Any]) -> list[str]:
        return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]

    return [s for s in statements if any(action.startswith("dynamodb:") for action in actions(s))]


def _table_arn(region: str, suffix: str = "") -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [f"arn:aws:dynamodb:{region}:", {"Ref": "AWS::AccountId"}, f":table/{config.JOBS_TABLE}{suffix}"],
        ]
    }


def test_stack_names_carry_the_region(synthesized: Any) -> None:
    assert set(synthesized.stack_names) == {
        f"jobsched-data-{config.PRIMARY_REGION}",
        *(regional_stack_name(region) for region in config.REGIONS),
    }


def test_rest_api_is_regional_and_meters_keys_from_the_header(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {
            "Name": config.rest_api_name(),
            "ApiKeySourceType": "HEADER",
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
        },
    )


def test_stage_prod_throttles_traces_and_writes_json_access_logs(template: Template) -> None:
    _, stage = _only(template.find_resources("AWS::ApiGateway::Stage"))
    properties = stage["Properties"]

    assert properties["StageName"] == config.API_STAGE
    assert properties["TracingEnabled"] is True
    assert properties["MethodSettings"] == [
        {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "ThrottlingRateLimit": config.STAGE_RATE_PER_SECOND,
            "ThrottlingBurstLimit": config.STAGE_BURST,
            "LoggingLevel": "ERROR",
            "DataTraceEnabled": False,
            "MetricsEnabled": True,
        }
    ]
    access_logs = properties["AccessLogSetting"]
    access_log_fields = json.loads(access_logs["Format"])
    assert access_log_fields["requestId"] == "$context.requestId"
    assert access_log_fields["status"] == "$context.status"
    assert access_log_fields["tenant"] == "$context.authorizer.tenant"
    log_group_id = access_logs["DestinationArn"]["Fn::Join"][1][-1]["Ref"]
    access_log_group = template.to_json()["Resources"][log_group_id]
    assert access_log_group["Type"] == "AWS::Logs::LogGroup"
    assert access_log_group["Properties"]["RetentionInDays"] == 30


def test_api_gateway_can_write_its_logs_in_this_region(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::Account", 1)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "apigateway.amazonaws.com"}})]
            }
        },
    )


@pytest.mark.parametrize("tier", list(config.Tier))
def test_usage_plan_per_tier_with_rate_burst_and_daily_quota(template: Template, tier: config.Tier) -> None:
    limits = config.TIERS[tier]
    _, plan = _only(
        template.find_resources(
            "AWS::ApiGateway::UsagePlan", {"Properties": {"UsagePlanName": config.usage_plan_name(tier)}}
        )
    )
    properties = plan["Properties"]

    assert properties["Throttle"] == {"RateLimit": limits.rate_per_second, "BurstLimit": limits.burst}
    assert properties["Quota"] == {"Limit": limits.daily_quota, "Period": "DAY"}
    (api_stage,) = properties["ApiStages"]
    stage_id, _ = _only(template.find_resources("AWS::ApiGateway::Stage"))
    assert api_stage["Stage"] == {"Ref": stage_id}


def test_exactly_three_usage_plans(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::UsagePlan", len(config.TIERS))


def test_request_authorizer_reads_the_key_header_and_caches_its_answer(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {
            "Type": "REQUEST",
            "IdentitySource": f"method.request.header.{config.API_KEY_HEADER}",
            "AuthorizerResultTtlInSeconds": config.AUTHORIZER_CACHE_SECONDS,
        },
    )


def test_routes_are_exactly_health_and_the_job_api(resources: dict[str, dict[str, Any]]) -> None:
    assert set(_routes(resources)) == {
        HEALTH_ROUTE,
        DEEP_HEALTH_ROUTE,
        *API_V1_ROUTES,
        *SCHEDULE_API_ROUTES,
        *EXECUTION_API_ROUTES,
    }


def test_every_api_v1_method_needs_a_key_and_the_authorizer(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    authorizer_id, _ = _only(template.find_resources("AWS::ApiGateway::Authorizer"))
    job_api_id, _ = _function(resources, "JobApi")
    routes = _routes(resources)

    for route in API_V1_ROUTES:
        method = routes[route]
        assert method["ApiKeyRequired"] is True, route
        assert method["AuthorizationType"] == "CUSTOM", route
        assert method["AuthorizerId"] == {"Ref": authorizer_id}, route
        assert "RequestValidatorId" in method, route
        assert method["Integration"]["Type"] == "AWS_PROXY", route
        job_api_alias = {"Ref": _live_alias_id(resources, job_api_id)}
        assert job_api_alias in method["Integration"]["Uri"]["Fn::Join"][1], route


def test_execution_routes_need_a_key_and_the_authorizer_and_reach_the_executions_api(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    authorizer_id, _ = _only(template.find_resources("AWS::ApiGateway::Authorizer"))
    executions_api_id, _ = _function(resources, "ExecutionsApi")
    routes = _routes(resources)

    for route in EXECUTION_API_ROUTES:
        method = routes[route]
        assert method["ApiKeyRequired"] is True, route
        assert (method["AuthorizationType"], method["AuthorizerId"]) == ("CUSTOM", {"Ref": authorizer_id}), (
            route
        )
        alias = {"Ref": _live_alias_id(resources, executions_api_id)}
        assert alias in method["Integration"]["Uri"]["Fn::Join"][1], route


def test_schedule_routes_need_a_key_and_the_authorizer_and_reach_the_schedule_api(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    authorizer_id, _ = _only(template.find_resources("AWS::ApiGateway::Authorizer"))
    schedule_api_id, _ = _function(resources, "ScheduleApi")
    routes = _routes(resources)

    for route in SCHEDULE_API_ROUTES:
        method = routes[route]
        assert (method["ApiKeyRequired"], method["AuthorizationType"]) == (True, "CUSTOM"), route
        assert method["AuthorizerId"] == {"Ref": authorizer_id}, route
        alias = {"Ref": _live_alias_id(resources, schedule_api_id)}
        assert alias in method["Integration"]["Uri"]["Fn::Join"][1], route


def test_health_needs_neither_key_nor_authorizer(resources: dict[str, dict[str, Any]]) -> None:
    health = _routes(resources)[HEALTH_ROUTE]
    health_id, _ = _function(resources, "Health")

    assert health["ApiKeyRequired"] is False
    assert health["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in health
    health_alias = {"Ref": _live_alias_id(resources, health_id)}
    assert health_alias in health["Integration"]["Uri"]["Fn::Join"][1]


def test_layers_target_python313_on_arm64(template: Template) -> None:
    template.resource_count_is("AWS::Lambda::LayerVersion", 2)
    template.all_resources_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"]},
    )


@pytest.mark.parametrize("function_name", FUNCTION_NAMES)
def test_function_shape(
    template: Template, resources: dict[str, dict[str, Any]], function_name: str, region: str
) -> None:
    _, function = _function(resources, function_name)
    layer_ids = sorted(template.find_resources("AWS::Lambda::LayerVersion"))

    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == "handler.handler"
    assert function["MemorySize"] == 256
    assert function["Timeout"] == 10
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert sorted(layer["Ref"] for layer in function["Layers"]) == layer_ids
    log_group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group_id]["Properties"]["RetentionInDays"] == 30
    environment = function["Environment"]["Variables"]
    assert "AWS_REGION" not in environment
    assert environment == {
        "JOBSCHED_REGIONS": ",".join(config.REGIONS),
        "JOBS_TABLE_NAME": config.JOBS_TABLE,
        "EXECUTIONS_TABLE_NAME": config.EXECUTIONS_TABLE,
        "SERVICE_VERSION": environment["SERVICE_VERSION"],
        "MAX_JOBS_PER_TENANT": "10000",
        "ALLOW_HTTP_TARGETS": "false",
        "SERVICE_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
        "POWERTOOLS_SERVICE_NAME": "jobsched",
        "POWERTOOLS_METRICS_NAMESPACE": "JobScheduler",
    }


def test_job_api_reads_and_writes_this_regions_replica(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    tenant_items, access_grants = _dynamodb_statements(_role_statements(resources, "JobApi"))

    # What its code calls, on its tenant's partition only: no Scan, no index, no key records.
    assert set(tenant_items["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert tenant_items["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#*"]}}
    assert (access_grants["Action"], access_grants["Condition"]) == (
        "dynamodb:BatchGetItem",
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ACCESS#*"]}},
    )
    assert tenant_items["Resource"] == access_grants["Resource"] == _table_arn(region)


def test_authorizer_may_only_get_items_of_the_jobs_table(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    (statement,) = _dynamodb_statements(_role_statements(resources, "Authorizer"))

    assert statement == {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": _table_arn(region)}


def test_health_has_no_table_access(resources: dict[str, dict[str, Any]]) -> None:
    assert _dynamodb_statements(_role_statements(resources, "Health")) == []


def test_no_table_arn_points_at_another_region(template: Template, region: str) -> None:
    rendered = json.dumps(template.to_json())

    assert f"arn:aws:dynamodb:{region}:" in rendered
    for other_region in set(config.REGIONS) - {region}:
        assert f"dynamodb:{other_region}" not in rendered


def test_outputs_name_the_api_url_and_id(template: Template) -> None:
    outputs = template.to_json()["Outputs"]

    assert set(outputs) == {"ApiUrl", "ApiId"}
    rest_api_id, _ = _only(template.find_resources("AWS::ApiGateway::RestApi"))
    assert outputs["ApiId"]["Value"] == {"Ref": rest_api_id}
    assert {"Ref": rest_api_id} in outputs["ApiUrl"]["Value"]["Fn::Join"][1]


def test_a_revoked_key_gets_401_and_every_429_says_when_to_retry(template: Template) -> None:
    responses = {
        props["ResponseType"]: props
        for props in (
            r["Properties"] for r in template.find_resources("AWS::ApiGateway::GatewayResponse").values()
        )
    }
    invalid_key = responses["INVALID_API_KEY"]
    assert invalid_key["StatusCode"] == "401"
    assert json.loads(invalid_key["ResponseTemplates"]["application/json"]) == {"message": "Unauthorized"}
    for kind, message in (("THROTTLED", "Too Many Requests"), ("QUOTA_EXCEEDED", "Limit Exceeded")):
        assert responses[kind]["StatusCode"] == "429"
        assert responses[kind]["ResponseParameters"]["gatewayresponse.header.Retry-After"] in (
            "'1'",
            "'3600'",
        )
        assert json.loads(responses[kind]["ResponseTemplates"]["application/json"]) == {"message": message}
