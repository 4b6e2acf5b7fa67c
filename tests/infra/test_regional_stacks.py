"""Each regional stack: API, stage, usage plans, authorizer, routes, functions, layers and IAM grants."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra import paths
from infra.stacks.regional_stack import regional_stack_name
from jobsched import config
from jobsched.api.routes import ROUTES, Route
from jobsched.functions import CONDITIONAL_VARIABLES, FUNCTION_VARIABLES, FunctionEnvironment

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


def _construct_name(function: str) -> str:
    """The factory's construct name of a function: functions/job_api is JobApi(Function)."""
    return "".join(part.capitalize() for part in function.split("_"))


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


def test_rest_api_is_regional_and_meters_the_key_the_authorizer_names(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {
            "Name": config.rest_api_name(),
            # usageIdentifierKey: the caller's key, or its tenant's usage key for a bearer token.
            "ApiKeySourceType": "AUTHORIZER",
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
            "MetricsEnabled": False,
        }
    ]
    access_logs = properties["AccessLogSetting"]
    # Lean and compact: each field and space is paid for on every request (docs/decisions.md).
    assert " " not in access_logs["Format"]
    assert json.loads(access_logs["Format"]) == {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "keyId": "$context.authorizer.key_id",
        "tenant": "$context.authorizer.tenant",
        "method": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "path": "$context.path",
        "status": "$context.status",
        "latency": "$context.responseLatency",
    }
    log_group_id = access_logs["DestinationArn"]["Fn::Join"][1][-1]["Ref"]
    access_log_group = template.to_json()["Resources"][log_group_id]
    assert access_log_group["Type"] == "AWS::Logs::LogGroup"
    assert access_log_group["Properties"]["RetentionInDays"] == 30
    # Read by Logs Insights only: the cheaper class (no metric filter or subscription reads it).
    assert access_log_group["Properties"]["LogGroupClass"] == "INFREQUENT_ACCESS"


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


def test_request_authorizer_takes_a_key_or_a_token_and_is_not_cached(template: Template) -> None:
    template.resource_count_is("AWS::ApiGateway::Authorizer", 1)
    _, authorizer = _only(template.find_resources("AWS::ApiGateway::Authorizer"))
    properties = authorizer["Properties"]
    assert properties["Type"] == "REQUEST"
    # Either of two headers: a cached authorizer would need both, so none is named and nothing cached.
    assert properties["AuthorizerResultTtlInSeconds"] == 0
    assert "IdentitySource" not in properties or properties["IdentitySource"] == ""


def test_the_authorizer_trusts_the_primary_regions_user_pool(
    template: Template, resources: dict[str, dict[str, Any]]
) -> None:
    _, function = _function(resources, "Authorizer")
    variables = function["Environment"]["Variables"]
    assert variables["TOKEN_SETTINGS_PARAMETER"] == config.TOKEN_SETTINGS_PARAMETER
    assert variables["TOKEN_SETTINGS_REGION"] == config.PRIMARY_REGION
    assert (variables["TOKEN_TENANT_CLAIM"], variables["TOKEN_ROLE_CLAIM"]) == (
        "custom:tenant",
        "cognito:groups",
    )
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "ssm:GetParameter"
    ]
    # The authorizer and the Identity API read the parameter, and nothing else of SSM.
    expected = f"arn:aws:ssm:{config.PRIMARY_REGION}:<account>:parameter{config.TOKEN_SETTINGS_PARAMETER}"
    assert [_joined(statement["Resource"]) for statement in statements] == [expected, expected]


def _joined(value: Any) -> str:
    """An Fn::Join of strings and the account id as one string, the account written <account>."""
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    return "".join(part if isinstance(part, str) else "<account>" for part in parts)


def test_one_user_pool_with_roles_scopes_and_a_domain_in_the_primary_region_only(
    regional_templates: dict[str, Template],
) -> None:
    for region, template in regional_templates.items():
        expected = 1 if region == config.PRIMARY_REGION else 0
        template.resource_count_is("AWS::Cognito::UserPool", expected)
        template.resource_count_is("AWS::Cognito::UserPoolDomain", expected)
    primary = regional_templates[config.PRIMARY_REGION]
    primary.has_resource_properties(
        "AWS::Cognito::UserPool",
        {"MfaConfiguration": "ON", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}},
    )
    _, server = _only(primary.find_resources("AWS::Cognito::UserPoolResourceServer"))
    assert server["Properties"]["Identifier"] == "jobsched"
    assert {scope["ScopeName"] for scope in server["Properties"]["Scopes"]} == {
        "jobs.read",
        "jobs.write",
        "executions.read",
        "executions.retry",
    }
    groups = primary.find_resources("AWS::Cognito::UserPoolGroup")
    assert {g["Properties"]["GroupName"] for g in groups.values()} == {"admin", "operator", "viewer"}
    primary.has_resource_properties("AWS::SSM::Parameter", {"Name": config.TOKEN_SETTINGS_PARAMETER})


def test_the_api_has_exactly_the_methods_of_the_route_table(resources: dict[str, dict[str, Any]]) -> None:
    assert set(_routes(resources)) == {(route.method, route.resource) for route in ROUTES}


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{route.method} {route.resource}")
def test_each_method_reaches_its_functions_live_alias_with_the_tables_key_rule(
    template: Template, resources: dict[str, dict[str, Any]], route: Route
) -> None:
    authorizer_id, _ = _only(template.find_resources("AWS::ApiGateway::Authorizer"))
    function_id, _ = _function(resources, _construct_name(route.function))
    method = _routes(resources)[(route.method, route.resource)]

    assert method["Integration"]["Type"] == "AWS_PROXY"
    alias = {"Ref": _live_alias_id(resources, function_id)}
    assert alias in method["Integration"]["Uri"]["Fn::Join"][1]
    assert method["ApiKeyRequired"] is route.key_required
    if route.key_required:
        assert (method["AuthorizationType"], method["AuthorizerId"]) == ("CUSTOM", {"Ref": authorizer_id})
        assert "RequestValidatorId" in method
        declared = {f"method.request.path.{name}": True for name in route.path_parameters}
        assert method.get("RequestParameters", {}) == declared
    else:
        assert method["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in method


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


def test_every_function_gets_the_declared_environment(resources: dict[str, dict[str, Any]]) -> None:
    """The common variables (jobsched.functions) on every function, plus exactly its own declared ones."""
    declared = FunctionEnvironment(
        regions=config.REGIONS,
        service_account_id="",
        allow_http_targets=False,
        log_level="WARNING",
        log_sample_rate="0.01",
    )
    # The deploying account is resolved at deploy time.
    common: dict[str, Any] = {**declared.variables(), "SERVICE_ACCOUNT_ID": {"Ref": "AWS::AccountId"}}
    functions = {
        logical_id: resource["Properties"]
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::Lambda::Function" and logical_id.startswith("Functions")
    }
    code_dirs = {path.name for path in paths.FUNCTIONS_DIR.iterdir() if (path / "handler.py").exists()}
    found = set()
    for logical_id, function in functions.items():
        (code_dir,) = [
            d for d in code_dirs if logical_id.startswith(f"Functions{_construct_name(d)}Function")
        ]
        found.add(code_dir)
        environment = dict(function["Environment"]["Variables"])
        own = {name: environment.pop(name, None) for name in FUNCTION_VARIABLES.get(code_dir, {})}
        assert environment == common, code_dir
        assert all(v for name, v in own.items() if name not in CONDITIONAL_VARIABLES), (code_dir, own)
        # Lambda passes INFO (what Powertools' 1% sample writes) and drops its own START/END/REPORT lines.
        assert function["LoggingConfig"]["ApplicationLogLevel"] == "INFO", code_dir
        assert function["LoggingConfig"]["SystemLogLevel"] == "WARN", code_dir
    assert found >= {route.function for route in ROUTES} | set(FUNCTION_VARIABLES)


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


def test_identity_api_reaches_its_tenants_items_key_and_client_records_and_their_listings_only(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    items, listings = _dynamodb_statements(_role_statements(resources, "IdentityApi"))

    # The tenant's usage key and audit (TENANT#), key records and OAuth client records; no Scan, no Delete.
    assert set(items["Action"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    }
    assert items["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TENANT#*", "APIKEY#*", "CLIENT#*"]}
    }
    assert items["Resource"] == _table_arn(region)
    # On the index, only the listings of keys and of clients.
    assert (listings["Action"], listings["Condition"]) == (
        "dynamodb:Query",
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["APIKEYS", "CLIENTS"]}},
    )
    assert listings["Resource"] == _table_arn(region, f"/index/{config.GSI1}")


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
    # The one exception, on purpose: the Execution API reads a job's history in the job's home region.
    history_reads = json.dumps(_role_statements(template.to_json()["Resources"], "ExecutionsApi"))
    for other_region in set(config.REGIONS) - {region}:
        history_table = (
            f'dynamodb:{other_region}:", {{"Ref": "AWS::AccountId"}}, ":table/{config.EXECUTIONS_TABLE}"'
        )
        assert rendered.count(f"dynamodb:{other_region}") == rendered.count(history_table) == 1
        assert history_table in history_reads


def test_outputs_name_the_api_url_and_id(template: Template, region: str) -> None:
    outputs = template.to_json()["Outputs"]
    users = sorted(name for name in outputs if name.startswith("Users"))
    if region == config.PRIMARY_REGION:  # the user pool and its OAuth token endpoint
        assert [name.startswith(("UsersTokenEndpoint", "UsersUserPoolId")) for name in users] == [True, True]
    else:
        assert users == []

    assert set(outputs) - set(users) == {"ApiUrl", "ApiId"}
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


OTHER_ISSUER_CONTEXT = {
    "auth": {
        "issuer": "https://idp.example.com/realms/acme",
        "audience": ["jobsched-app"],
        "tenant_claim": "org",
        "role_claim": "roles",
    }
}


@pytest.fixture(scope="module")
def other_issuer_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    """The app as `cdk synth` makes it when cdk.json's auth block names another OIDC issuer."""
    from tests.infra.conftest import synthesize

    synthesized = synthesize(tmp_path_factory, OTHER_ISSUER_CONTEXT)
    return {region: synthesized.template(regional_stack_name(region)) for region in config.REGIONS}


def test_another_oidc_issuer_in_cdk_json_replaces_the_user_pool_everywhere(
    other_issuer_templates: dict[str, Template],
) -> None:
    for region, template in other_issuer_templates.items():
        template.resource_count_is("AWS::Cognito::UserPool", 0)
        parameters = template.find_resources("AWS::SSM::Parameter")
        assert config.TOKEN_SETTINGS_PARAMETER not in json.dumps(parameters), region
        _, function = _function(template.to_json()["Resources"], "Authorizer")
        variables = function["Environment"]["Variables"]
        assert {name: value for name, value in variables.items() if name.startswith("TOKEN_")} == {
            "TOKEN_ISSUER": "https://idp.example.com/realms/acme",
            "TOKEN_AUDIENCE": "jobsched-app",
            "TOKEN_JWKS_URL": "https://idp.example.com/realms/acme/.well-known/jwks.json",
            "TOKEN_TENANT_CLAIM": "org",
            "TOKEN_ROLE_CLAIM": "roles",
            "TOKEN_TAGS_CLAIM": "custom:job_tags",
        }, region
        # No user pool's parameter to read, so no function may read it.
        assert not [
            statement
            for policy in template.find_resources("AWS::IAM::Policy").values()
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if config.TOKEN_SETTINGS_PARAMETER in json.dumps(statement["Resource"])
        ], region
