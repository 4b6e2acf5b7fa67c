"""The execution archive in every regional stack: bucket, lifecycle, the archiver (its plan, its segments'
queue and paced event source, its permissions), alarms, who may read it; and the region's trace sampling
rule."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.constructs.execution_archive import (
    ARCHIVE_EXPIRATION,
    ARCHIVER_BATCH_SIZE,
    ARCHIVER_DLQ,
    ARCHIVER_MAX_CONCURRENCY,
    PLAN_EVENT,
)
from jobsched import config
from jobsched.execution.archive import ARCHIVE_AHEAD, ARCHIVE_SEGMENTS
from jobsched.execution.models import HISTORY_RETENTION, TABLE_RETENTION
from tests.infra.test_regional_stacks import _function, _role_statements


def _only(template: Template, kind: str) -> dict[str, Any]:
    found = template.find_resources(kind)
    assert len(found) == 1, list(found)
    properties: dict[str, Any] = next(iter(found.values()))["Properties"]
    return properties


def test_the_bucket_is_private_encrypted_and_tls_only(template: Template) -> None:
    bucket = _only(template, "AWS::S3::Bucket")
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    policy = _only(template, "AWS::S3::BucketPolicy")["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in policy
    )
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})


def test_history_goes_cold_and_expires_at_the_twelve_month_retention(template: Template, region: str) -> None:
    bucket = _only(template, "AWS::S3::Bucket")
    name = json.dumps(bucket["BucketName"])
    assert f"{config.ARCHIVE_BUCKET_PREFIX}-" in name and region in name
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 60}]
    assert rule["ExpirationInDays"] == ARCHIVE_EXPIRATION.days
    # Objects are first written ARCHIVE_AHEAD before the table lets go; the last goes a year after its day.
    assert TABLE_RETENTION.days - ARCHIVE_AHEAD.days + ARCHIVE_EXPIRATION.days == HISTORY_RETENTION.days


def test_the_archiver_plans_a_run_every_third_day(resources: dict[str, Any]) -> None:
    _, function = _function(resources, "Archiver")
    assert function["Timeout"] == config.ARCHIVER_TIMEOUT_SECONDS and function["MemorySize"] == 256
    assert function["Environment"]["Variables"]["ARCHIVE_READ_UNITS_PER_SECOND"] == (
        f"{config.ARCHIVE_READ_UNITS_PER_SECOND:g}"
    )
    # 00:30 UTC on days 1, 4, 7, ... (every third day)
    every_third_day = "cron(30 0 1/3 * ? *)"
    daily = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and r["Properties"]["ScheduleExpression"] == every_third_day
    ]
    assert len(daily) == 1
    (target,) = daily[0]["Targets"]
    assert json.loads(target["Input"]) == PLAN_EVENT == {"plan": True}


def _archive_queue(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (lid, r["Properties"])
        for lid, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("QueueName") == config.ARCHIVE_QUEUE
    ]
    return found


def test_the_segments_queue_is_encrypted_tls_only_and_dead_letters_to_the_alarmed_dlq(
    resources: dict[str, Any],
) -> None:
    queue_id, queue = _archive_queue(resources)
    assert queue["SqsManagedSseEnabled"] is True
    assert (
        queue["VisibilityTimeout"] == config.ARCHIVE_VISIBILITY_SECONDS >= 6 * config.ARCHIVER_TIMEOUT_SECONDS
    )
    (dlq_id,) = [
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("QueueName") == ARCHIVER_DLQ
    ]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": config.ARCHIVE_MAX_RECEIVES,
    }
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in r["Properties"]["Queues"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statements in policies
        for s in statements
    )


def test_the_archiver_scans_one_segment_at_a_time_two_at_once(resources: dict[str, Any]) -> None:
    queue_id, _ = _archive_queue(resources)
    (mapping,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"].get("EventSourceArn") == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert mapping["BatchSize"] == ARCHIVER_BATCH_SIZE == 1
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": ARCHIVER_MAX_CONCURRENCY}
    assert ":live" in json.dumps(mapping["FunctionName"])  # the alias, as every caller
    # A run's segments at the run's read rate finish within a segment's timeout, with room to grow.
    assert ARCHIVE_SEGMENTS >= 256


def test_the_archiver_scans_only_its_table_queues_only_its_segments_and_writes_only_its_bucket(
    resources: dict[str, Any],
) -> None:
    statements = _role_statements(resources, "Archiver")

    def actions(statement: dict[str, Any]) -> list[str]:
        return [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]

    every = {a for s in statements for a in actions(s)}
    assert {a.split(":")[0] for a in every} <= {"dynamodb", "s3", "sqs", "xray", "logs"}
    dynamodb = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert [(actions(s), s["Resource"]) for s in dynamodb] == [
        (["dynamodb:Scan"], dynamodb[0]["Resource"])
    ] and "ExecutionsTable" in json.dumps(dynamodb[0]["Resource"])
    assert not {a for a in every if a.startswith("s3:")} - {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    queue_id, _ = _archive_queue(resources)
    (dlq_id,) = [
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("QueueName") == ARCHIVER_DLQ
    ]
    queue, dlq = {"Fn::GetAtt": [queue_id, "Arn"]}, {"Fn::GetAtt": [dlq_id, "Arn"]}
    consume = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"}
    send = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    granted: dict[str, set[str]] = {"queue": set(), "dlq": set()}
    for statement in (s for s in statements if any(a.startswith("sqs:") for a in actions(s))):
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            assert resource in (queue, dlq), resource
            granted["queue" if resource == queue else "dlq"] |= set(actions(statement))
    # its own segments: send (the plan) and consume (the event source); a failed plan's event: send only
    assert granted["queue"] == consume | send
    assert granted["dlq"] <= send and "sqs:SendMessage" in granted["dlq"]


def test_failed_runs_go_to_a_dead_letter_queue_that_alarms(template: Template) -> None:
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": ARCHIVER_DLQ})
    invoke = _only(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["MaximumRetryAttempts"] == 2
    assert "OnFailure" in invoke["DestinationConfig"]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    described = [a["Properties"].get("AlarmDescription", "") for a in alarms.values()]
    assert any("An archive run (its plan, or a scan segment) failed" in d for d in described)
    # Its errors alarm as every function's do (ArchiverFunction-Errors, test_watched_functions.py).
    assert not any("archiver raised an error" in d for d in described)


def test_the_executions_api_reads_every_regions_history(resources: dict[str, Any], region: str) -> None:
    statements = _role_statements(resources, "ExecutionsApi")
    text = json.dumps(statements)
    for other in config.REGIONS:
        assert f"{config.ARCHIVE_BUCKET_PREFIX}-" in text and f"-{other}/*" in text
        if other != region:
            assert f":{other}:" in text  # its executions table and queue there
    writes = [
        s for s in statements if any("Put" in a or "Delete" in a for a in json.dumps(s["Action"]).split(","))
    ]
    assert not [s for s in writes if "s3:" in json.dumps(s["Action"])]


def test_one_trace_sampling_rule_per_region(template: Template) -> None:
    rule = _only(template, "AWS::XRay::SamplingRule")["SamplingRule"]
    assert rule["FixedRate"] == 0.002 and rule["ReservoirSize"] == 0
    assert rule["Priority"] < 10000  # ahead of X-Ray's default rule
