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


def test_the_executor_may_put_events_and_send_messages_only_where_configured(
    regional_templates: dict[str, Template],
) -> None:
    for region, template in regional_templates.items():
        statements = [
            statement
            for policy in template.find_resources("AWS::IAM::Policy").values()
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        puts = [s for s in statements if s["Action"] == "events:PutEvents"]
        sends = [s for s in statements if s["Action"] == "sqs:SendMessage"]
        assert len(puts) == 1 and len(sends) == 1
        assert f":events:{region}:" in str(puts[0]["Resource"])
        assert f":sqs:{region}:" in str(sends[0]["Resource"])


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
