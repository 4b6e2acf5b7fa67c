"""The execution archive in every regional stack: bucket, lifecycle, daily archiver, alarms, who may read it;
and the region's trace sampling rule."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template

from infra.constructs.execution_archive import ARCHIVE_EXPIRATION, ARCHIVE_SEGMENTS, ARCHIVER_DLQ
from jobsched import config
from jobsched.execution.archive import ARCHIVE_AHEAD
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


def test_the_archiver_runs_every_third_day_once_per_scan_segment(resources: dict[str, Any]) -> None:
    _, function = _function(resources, "Archiver")
    assert function["Timeout"] == 900 and function["MemorySize"] == 1024
    # 00:30 UTC on days 1, 4, 7, ... (every third day)
    every_third_day = "cron(30 0 1/3 * ? *)"
    daily = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and r["Properties"]["ScheduleExpression"] == every_third_day
    ]
    assert len(daily) == 1
    inputs = sorted(json.loads(target["Input"])["segment"] for target in daily[0]["Targets"])
    assert inputs == list(range(ARCHIVE_SEGMENTS))
    assert {json.loads(t["Input"])["total_segments"] for t in daily[0]["Targets"]} == {ARCHIVE_SEGMENTS}


def test_the_archiver_scans_only_its_table_and_writes_only_its_bucket(resources: dict[str, Any]) -> None:
    statements = _role_statements(resources, "Archiver")
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "dynamodb:Scan" in actions
    assert not {a for a in actions if a.startswith("dynamodb:")} - {"dynamodb:Scan"}
    assert not {a for a in actions if a.startswith("s3:")} - {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}


def test_failed_runs_go_to_a_dead_letter_queue_that_alarms(template: Template) -> None:
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": ARCHIVER_DLQ})
    invoke = _only(template, "AWS::Lambda::EventInvokeConfig")
    assert invoke["MaximumRetryAttempts"] == 2
    assert "OnFailure" in invoke["DestinationConfig"]
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    described = [a["Properties"].get("AlarmDescription", "") for a in alarms.values()]
    assert any("daily archive run failed" in d for d in described)
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
