"""The executor and the Execution API in every regional stack: event source, timeouts, routes, IAM scope."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from jobsched import config


def _function(template: Template, description_start: str) -> tuple[str, dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    found = [
        (k, v) for k, v in functions.items() if v["Properties"]["Description"].startswith(description_start)
    ]
    assert len(found) == 1, list(functions)
    return found[0]


def test_the_executor_reads_the_queue_in_bounded_batches_with_partial_failures(
    regional_templates: dict[str, Template],
) -> None:
    for template in regional_templates.values():
        _, executor = _function(template, "jobsched executor")
        assert executor["Properties"]["Timeout"] == config.EXECUTOR_TIMEOUT_SECONDS
        template.has_resource_properties(
            "AWS::Lambda::EventSourceMapping",
            {
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "ScalingConfig": {"MaximumConcurrency": Match.any_value()},
            },
        )
        template.has_resource_properties(
            "AWS::SQS::Queue",
            {
                "QueueName": config.EXECUTION_QUEUE,
                "VisibilityTimeout": Match.any_value(),
            },
        )
        queue = next(
            q
            for q in template.find_resources("AWS::SQS::Queue").values()
            if q["Properties"]["QueueName"] == config.EXECUTION_QUEUE
        )
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * executor["Properties"]["Timeout"]


def _role_statements(template: Template, description_start: str) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the role of the function whose description starts so."""
    _, function = _function(template, description_start)
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


def _resources(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"]
    return [str(r) for r in (resources if isinstance(resources, list) else [resources])]


TARGET_ACTIONS = {
    "events:PutEvents": ":event-bus/*",
    "sqs:SendMessage": ":*",
    "lambda:InvokeFunction": ":function:*",
    "sns:Publish": ":*",
    "states:StartExecution": ":stateMachine:*",
}


def test_the_executor_may_call_targets_only_where_configured_and_never_the_services_own(
    regional_templates: dict[str, Template],
) -> None:
    for region, template in regional_templates.items():
        statements = _role_statements(template, "jobsched executor")
        allowed = [s for s in statements if s["Effect"] == "Allow"]
        denied = [s for s in statements if s["Effect"] == "Deny"]
        for action, suffix in TARGET_ACTIONS.items():
            [wide] = [s for s in allowed if _actions(s) == [action] and suffix in str(s["Resource"])]
            service = action.split(":")[0]
            assert f":{service}:{region}:" in str(wide["Resource"]), action
        [own] = [s for s in denied if s.get("Sid") == "DenyServiceResources"]
        assert sorted(_actions(own)) == sorted(
            a for a in TARGET_ACTIONS if a not in ("sqs:SendMessage", "sns:Publish")
        )
        shown = " ".join(_resources(own))
        for pattern in (
            ":events:*:",
            "event-bus/jobsched*",
            ":lambda:*:",
            "function:jobsched*",
            ":states:*:",
            "stateMachine:jobsched*",
        ):
            assert pattern in shown, pattern
        [queues] = [s for s in denied if s.get("Sid") == "DenyServiceQueues"]
        denied_queues = " ".join(_resources(queues))
        for name in (config.EXECUTION_DLQ, config.SCHEDULER_DLQ, config.SCHEDULE_SYNC_DLQ):
            assert ":sqs:*:" in denied_queues and f":{name}'" in denied_queues, name
        # Its own queue stays writable: the executor queues the next attempt of a failed execution there;
        # the service's queues of every other region are denied.
        assert f":{config.EXECUTION_QUEUE}'" not in denied_queues
        [elsewhere] = [s for s in denied if s.get("Sid") == "DenyServiceQueuesInOtherRegions"]
        assert ":sqs:*:" in str(elsewhere["Resource"]) and ":jobsched*'" in str(elsewhere["Resource"])
        assert elsewhere["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": region}}
        # Topics: the alarm topics everywhere, and every jobsched* topic of another region; its own region's
        # notification topic is the one it publishes failure notices to.
        [topics] = [s for s in denied if s.get("Sid") == "DenyServiceTopics"]
        assert _actions(topics) == ["sns:Publish"] and ":sns:*:" in str(topics["Resource"])
        assert ":jobsched-alarms-*'" in str(topics["Resource"])
        [topics_elsewhere] = [s for s in denied if s.get("Sid") == "DenyServiceTopicsInOtherRegions"]
        assert ":jobsched*'" in str(topics_elsewhere["Resource"])
        assert topics_elsewhere["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": region}}
        [topic_id] = template.find_resources(
            "AWS::SNS::Topic", {"Properties": {"TopicName": config.NOTIFICATION_TOPIC}}
        )
        publish = [
            s for s in allowed if _actions(s) == ["sns:Publish"] and s["Resource"] == {"Ref": topic_id}
        ]
        assert len(publish) == 1


def test_the_executor_assumes_roles_only_with_an_external_id(regional_templates: dict[str, Template]) -> None:
    for template in regional_templates.values():
        statements = _role_statements(template, "jobsched executor")
        [assume] = [s for s in statements if "sts:AssumeRole" in _actions(s)]
        assert assume["Effect"] == "Allow"
        assert assume["Condition"] == {"Null": {"sts:ExternalId": "false"}}
        assert ":iam::*:role/*" in str(assume["Resource"])


def test_tenant_facing_functions_touch_only_tenant_partitions_and_never_an_index(
    regional_templates: dict[str, Template],
) -> None:
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
    for template in regional_templates.values():
        for function in (
            "jobsched Job API",
            "jobsched Schedule API",
            "jobsched Execution API",
            "jobsched executor",
        ):
            table_statements = [
                s
                for s in _role_statements(template, function)
                if any(a.startswith("dynamodb:") for a in _actions(s))
            ]
            assert table_statements, function
            for statement in table_statements:
                assert "/index/" not in str(statement["Resource"]), function
                assert "dynamodb:Scan" not in _actions(statement), function
                keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                # Never key records (APIKEY#...): tenants' items only, and the operators' grants read-only;
                # the executor also updates the heartbeat items (never a drill marker, REGION#...).
                if keys == ["HEARTBEAT#*"]:
                    assert function == "jobsched executor" and _actions(statement) == ["dynamodb:UpdateItem"]
                    continue
                assert keys in (["TENANT#*"], ["ACCESS#*"]), (function, keys)
                if keys == ["ACCESS#*"]:
                    assert set(_actions(statement)) <= {"dynamodb:BatchGetItem", "dynamodb:GetItem"}, function
                    assert not writes & set(_actions(statement)), function


def test_execution_routes_exist_behind_the_key_authorizer(regional_templates: dict[str, Template]) -> None:
    for template in regional_templates.values():
        parts = {
            r["Properties"]["PathPart"] for r in template.find_resources("AWS::ApiGateway::Resource").values()
        }
        assert {"executions", "{execution_id}", "retry", "run", "webhook-secret"} <= parts
        methods = template.find_resources("AWS::ApiGateway::Method")
        assert all(
            m["Properties"]["AuthorizationType"] == "CUSTOM"
            for m in methods.values()
            if m["Properties"]["HttpMethod"] != "OPTIONS" and m["Properties"].get("ApiKeyRequired")
        )
