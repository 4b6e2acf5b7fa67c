"""Scheduling per regional stack: group, scheduler role, DLQs, schedule-sync on its stream, IAM scope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from jobsched import config


@pytest.fixture(params=config.REGIONS)
def template(request: pytest.FixtureRequest, regional_templates: dict[str, Template]) -> Template:
    found: Template = regional_templates[request.param]
    return found


def _of_type(template: Template, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = template.find_resources(kind)
    return found


def _policy_statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    statements = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                statements.append((role["Ref"], statement))
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_the_schedule_group_is_kept_on_stack_deletion(template: Template) -> None:
    template.has_resource(
        "AWS::Scheduler::ScheduleGroup",
        {"Properties": {"Name": config.SCHEDULE_GROUP}, "DeletionPolicy": "Retain"},
    )


def test_the_scheduler_role_guards_against_the_confused_deputy(template: Template) -> None:
    roles = [
        role
        for role in _of_type(template, "AWS::IAM::Role").values()
        if "scheduler.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert len(roles) == 1
    (statement,) = roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "schedule/jobsched/*" in json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])


def test_the_queues_and_dead_letter_queues_exist(template: Template) -> None:
    names = {q["Properties"].get("QueueName") for q in _of_type(template, "AWS::SQS::Queue").values()}
    assert {
        config.EXECUTION_QUEUE,
        config.EXECUTION_DLQ,
        config.SCHEDULER_DLQ,
        config.SCHEDULE_SYNC_DLQ,
    } <= names


def test_schedule_sync_reads_the_stream_in_order_with_partial_failures_and_a_dlq(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("JobsStreamArn"), "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "ParallelizationFactor": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": Match.any_value(),
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )


def test_schedule_sync_wakes_only_for_jobs_homed_in_its_region_before_or_after(
    request: pytest.FixtureRequest, template: Template
) -> None:
    (mapping,) = [
        m
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if "StreamArn" in json.dumps(m["Properties"]["EventSourceArn"])
    ]
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]
    region = request.node.callspec.params["template"]
    job_items = {"S": [{"prefix": "JOB#"}]}
    # Lambda ORs the filters: the new home or the old one (a move wakes both regions, a delete the old)
    assert patterns == [
        {"dynamodb": {"Keys": {"sk": job_items}, "NewImage": {"region": {"S": [region]}}}},
        {"dynamodb": {"Keys": {"sk": job_items}, "OldImage": {"region": {"S": [region]}}}},
    ]


def test_only_schedule_sync_manages_schedules_and_passes_the_scheduler_role(template: Template) -> None:
    writers = {
        role
        for role, statement in _policy_statements(template)
        if any(a.startswith("scheduler:") or a == "iam:PassRole" for a in _actions(statement))
    }
    assert len(writers) == 1
    (writer,) = writers
    assert writer.startswith("FunctionsScheduleSyncFunction")
    passes = [s for r, s in _policy_statements(template) if "iam:PassRole" in _actions(s)]
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_the_scheduler_may_send_to_the_execution_queue_and_its_dlq_only(template: Template) -> None:
    role_id = next(
        key
        for key, role in _of_type(template, "AWS::IAM::Role").items()
        if "scheduler.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    )
    statements = [s for role, s in _policy_statements(template) if role == role_id]
    assert {a for s in statements for a in _actions(s)} <= {
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    resources = json.dumps([s["Resource"] for s in statements])
    assert "ExecutionQueue" in resources
    assert "SchedulerDeadLetterQueue" in resources
    assert resources.count("Fn::GetAtt") == 2
