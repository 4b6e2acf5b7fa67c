"""The edge of each regional stack: WAF on the stage, compression, and the deep health route."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs.web_acl import body_too_large_body, integer_greater_than_pattern
from jobsched import config
from jobsched.api.http_api import MAX_REQUEST_BYTES, per_ip_limit_body


def _only(resources: dict[str, dict[str, Any]], kind: str) -> tuple[str, dict[str, Any]]:
    found = [(key, value) for key, value in resources.items() if value["Type"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {[key for key, _ in found]}"
    return found[0]


def _web_acl(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    acl_id, acl = _only(resources, "AWS::WAFv2::WebACL")
    return acl_id, acl["Properties"]


def _rules(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in _web_acl(resources)[1]["Rules"]}


def test_one_regional_web_acl_that_allows_by_default(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    _, acl = _web_acl(resources)

    assert acl["Scope"] == "REGIONAL"
    assert acl["Name"] == f"jobsched-{region}"
    assert acl["DefaultAction"] == {"Allow": {}}
    assert acl["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_the_web_acl_is_associated_with_the_api_stage(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    acl_id, _ = _web_acl(resources)
    stage_id, _ = _only(resources, "AWS::ApiGateway::Stage")
    rest_api_id, _ = _only(resources, "AWS::ApiGateway::RestApi")
    _, association = _only(resources, "AWS::WAFv2::WebACLAssociation")

    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert association["Properties"]["ResourceArn"] == {
        "Fn::Join": [
            "",
            [f"arn:aws:apigateway:{region}::/restapis/", {"Ref": rest_api_id}, "/stages/", {"Ref": stage_id}],
        ]
    }


def test_rules_run_in_this_order(resources: dict[str, dict[str, Any]]) -> None:
    ordered = sorted(_web_acl(resources)[1]["Rules"], key=lambda rule: rule["Priority"])

    assert [rule["Name"] for rule in ordered] == [
        "AmazonIpReputation",
        "PerIpRateLimit",
        "BodySizeLimit",
        "CommonRuleSet",
        "KnownBadInputs",
    ]
    assert [rule["Priority"] for rule in ordered] == [0, 1, 2, 3, 4]
    assert all(rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] for rule in ordered)


def test_per_ip_rate_rule_is_100_per_second_as_6000_per_minute_answered_with_json_429(
    resources: dict[str, dict[str, Any]],
) -> None:
    rule = _rules(resources)["PerIpRateLimit"]
    _, acl = _web_acl(resources)

    assert rule["Statement"]["RateBasedStatement"] == {
        "Limit": 6_000,
        "EvaluationWindowSec": 60,
        "AggregateKeyType": "IP",
    }
    assert config.PER_IP_LIMIT_PER_WINDOW / config.PER_IP_WINDOW_SECONDS == 100
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert response["ResponseHeaders"] == [{"Name": "Retry-After", "Value": "60"}]
    body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert body["Content"] == per_ip_limit_body()  # the same answer the local gateway gives
    assert json.loads(body["Content"])["error"]["code"] == "too_many_requests"


def test_body_size_rule_blocks_declared_bodies_over_the_api_limit_with_a_json_413(
    resources: dict[str, dict[str, Any]],
) -> None:
    rule = _rules(resources)["BodySizeLimit"]
    _, acl = _web_acl(resources)
    statement = rule["Statement"]["RegexMatchStatement"]

    assert statement["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    pattern = re.compile(statement["RegexString"])
    assert pattern.match(str(MAX_REQUEST_BYTES + 1))
    assert not pattern.match(str(MAX_REQUEST_BYTES))
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 413
    body = acl["CustomResponseBodies"][response["CustomResponseBodyKey"]]["Content"]
    assert body == body_too_large_body()
    assert json.loads(body)["error"]["details"] == [
        {"field": "Content-Length", "message": f"must be at most {MAX_REQUEST_BYTES} bytes"}
    ]


def test_aws_managed_rule_groups_with_the_8_kb_body_rule_only_counted(
    resources: dict[str, dict[str, Any]],
) -> None:
    rules = _rules(resources)
    groups = {
        name: rule["Statement"]["ManagedRuleGroupStatement"]
        for name, rule in rules.items()
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }

    assert {name: group["Name"] for name, group in groups.items()} == {
        "AmazonIpReputation": "AWSManagedRulesAmazonIpReputationList",
        "CommonRuleSet": "AWSManagedRulesCommonRuleSet",
        "KnownBadInputs": "AWSManagedRulesKnownBadInputsRuleSet",
    }
    assert all(group["VendorName"] == "AWS" for group in groups.values())
    assert all(rules[name]["OverrideAction"] == {"None": {}} for name in groups)
    assert groups["CommonRuleSet"]["RuleActionOverrides"] == [
        {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}
    ]


def test_waf_logs_blocked_and_counted_requests_without_keys_to_a_retained_log_group(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    acl_id, _ = _web_acl(resources)
    _, logging = _only(resources, "AWS::WAFv2::LoggingConfiguration")
    properties = logging["Properties"]
    (destination,) = properties["LogDestinationConfigs"]
    log_group_id = destination["Fn::Join"][1][-1]["Ref"]
    log_group = resources[log_group_id]["Properties"]

    assert properties["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert log_group["LogGroupName"] == f"aws-waf-logs-jobsched-{region}"
    assert log_group["RetentionInDays"] == 30
    assert destination["Fn::Join"][1][0] == f"arn:aws:logs:{region}:"
    assert destination["Fn::Join"][1][2] == ":log-group:"  # no ":*" suffix, which WAF refuses
    assert properties["RedactedFields"] == [
        {"SingleHeader": {"Name": "x-api-key"}},
        {"SingleHeader": {"Name": "authorization"}},
    ]
    assert properties["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (keep,) = properties["LoggingFilter"]["Filters"]
    assert keep["Behavior"] == "KEEP"
    assert {c["ActionCondition"]["Action"] for c in keep["Conditions"]} == {"BLOCK", "COUNT"}


def test_a_spike_of_blocked_requests_warns(resources: dict[str, dict[str, Any]], region: str) -> None:
    (alarm,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["AlarmName"] == f"jobsched-{region}-warning-WafBlockedRequests"
    ]
    (warning_topic,) = [
        key
        for key, r in resources.items()
        if r["Type"] == "AWS::SNS::Topic" and r["Properties"]["TopicName"] == "jobsched-alarms-warning"
    ]

    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"], alarm["Period"]) == (
        "AWS/WAFV2",
        "BlockedRequests",
        "Sum",
        300,
    )
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "Region", "Value": region},
        {"Name": "Rule", "Value": "ALL"},
        {"Name": "WebACL", "Value": f"jobsched-{region}"},
    ]
    assert alarm["AlarmActions"] == [{"Ref": warning_topic}]


def test_responses_of_1_kb_or_more_are_compressed(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi", {"MinimumCompressionSize": config.COMPRESSION_MIN_BYTES}
    )
    assert config.COMPRESSION_MIN_BYTES == 1024


def _deep_health_function(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (key, r["Properties"])
        for key, r in resources.items()
        if r["Type"] == "AWS::Lambda::Function" and key.startswith("FunctionsDeepHealthFunction")
    ]
    return found


def test_deep_health_route_needs_no_key_and_calls_the_live_alias(
    resources: dict[str, dict[str, Any]],
) -> None:
    function_id, _ = _deep_health_function(resources)
    (alias_id,) = [
        key
        for key, r in resources.items()
        if r["Type"] == "AWS::Lambda::Alias" and r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    deep = [key for key, r in resources.items() if r["Type"] == "AWS::ApiGateway::Resource"]
    (deep_id,) = [key for key in deep if resources[key]["Properties"]["PathPart"] == "deep"]
    health_id = resources[deep_id]["Properties"]["ParentId"]["Ref"]
    (method,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGateway::Method" and r["Properties"]["ResourceId"] == {"Ref": deep_id}
    ]

    assert resources[health_id]["Properties"]["PathPart"] == "health"
    assert (method["HttpMethod"], method["ApiKeyRequired"], method["AuthorizationType"]) == (
        "GET",
        False,
        "NONE",
    )
    assert {"Ref": alias_id} in method["Integration"]["Uri"]["Fn::Join"][1]


def test_deep_health_may_read_one_table_item_and_the_queue_attributes_only(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    function_id, function = _deep_health_function(resources)
    role_id = function["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
    ]
    (queue_id,) = [
        key
        for key, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("QueueName") == config.EXECUTION_QUEUE
    ]
    by_action = {json.dumps(s["Action"]): s["Resource"] for s in statements}

    assert by_action['"dynamodb:GetItem"'] == {
        "Fn::Join": [
            "",
            [f"arn:aws:dynamodb:{region}:", {"Ref": "AWS::AccountId"}, f":table/{config.JOBS_TABLE}"],
        ]
    }
    assert by_action['"sqs:GetQueueAttributes"'] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert not [s for s in statements if "dynamodb:" in json.dumps(s["Action"]) and "index" in json.dumps(s)]
    assert function["Environment"]["Variables"]["EXECUTION_QUEUE_URL"] == {"Ref": queue_id}
    assert function_id


@pytest.mark.parametrize("limit", [0, 7, 9, 10, 99, 100, 1_024, 262_144, 999_999])
def test_the_greater_than_pattern_matches_exactly_the_larger_integers(limit: int) -> None:
    pattern = re.compile(integer_greater_than_pattern(limit))
    for number in [*range(0, 2_000), *range(limit - 1_000, limit + 1_000), 10 * limit + 1, 10**12]:
        if number < 0:
            continue
        assert bool(pattern.match(str(number))) is (number > limit), (limit, number)
        assert bool(pattern.match(f"00{number}")) is (number > limit), (limit, number)
    for not_a_number in ("", "abc", "-1", "1e9", "262145 ", "+262145"):
        assert not pattern.match(not_a_number)


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        integer_greater_than_pattern(-1)


def test_the_application_performance_section_shows_the_web_acl(
    resources: dict[str, dict[str, Any]], region: str
) -> None:
    (body,) = [
        json.dumps(r["Properties"]["DashboardBody"])
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
        and r["Properties"]["DashboardName"] == f"jobsched-{region}-operations"
    ]

    # the application performance section is the dashboard's last: WAF's widgets come after its header
    assert "AWS/WAFV2" in body
    assert body.index("# Application performance") < body.index("AWS/WAFV2")
    assert "BlockedRequests" in body and "AllowedRequests" in body
