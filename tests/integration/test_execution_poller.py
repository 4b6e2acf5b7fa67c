"""The local SQS event source (poller) and `jobsched dlq redrive`, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched_cli.dlq_redrive import redrive
from jobsched_cli.main import main
from jobsched_local.execution_poller import ExecutionPoller
from jobsched_local.scheduling_provision import ensure_queues

pytestmark = pytest.mark.usefixtures("aws")


def _client(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


def _url(name: str) -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _depth(name: str) -> tuple[int, int]:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=_url(name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_the_poller_deletes_what_the_executor_did_and_keeps_what_it_reported_failed() -> None:
    ensure_queues(boto3.client("sqs"))
    sqs = boto3.client("sqs")
    for body in ("good", "bad", "good"):
        sqs.send_message(QueueUrl=_url(config.EXECUTION_QUEUE), MessageBody=json.dumps({"x": body}))
    seen: list[dict[str, Any]] = []

    def executor(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.extend(event["Records"])
        failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"])["x"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    poller = ExecutionPoller(executor, _client, "us-east-1", wait_seconds=0)
    assert poller.poll_once() == 3
    assert {r["eventSource"] for r in seen} == {"aws:sqs"}
    assert all(r["eventSourceARN"].endswith(config.EXECUTION_QUEUE) for r in seen)
    assert _depth(config.EXECUTION_QUEUE) == (0, 1)  # the failed one waits out its visibility timeout
    assert poller.poll_once() == 0


def test_a_message_failing_past_max_receives_lands_on_the_dlq() -> None:
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="poison-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"deadLetterTargetArn": arn, "maxReceiveCount": "2"}
    sqs.create_queue(
        QueueName="poison", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": json.dumps(policy)}
    )
    sqs.send_message(QueueUrl=_url("poison"), MessageBody="{}")

    def always_fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    poller = ExecutionPoller(always_fails, _client, "us-east-1", queue_name="poison", wait_seconds=0)
    received = [poller.poll_once() for _ in range(3)]
    assert received == [1, 1, 0]
    assert _depth("poison-dlq")[0] == 1


def test_redrive_moves_at_most_n_messages_back(capsys: pytest.CaptureFixture[str]) -> None:
    ensure_queues(boto3.client("sqs"))
    sqs = boto3.client("sqs")
    for index in range(3):
        sqs.send_message(QueueUrl=_url(config.EXECUTION_DLQ), MessageBody=json.dumps({"n": index}))
    summary = redrive(sqs, max_messages=2)
    assert (summary.moved, summary.failed, summary.remaining) == (2, 0, 1)
    assert _depth(config.EXECUTION_QUEUE)[0] == 2

    assert main(["dlq", "redrive", "--region", "us-east-1"]) == 0
    out = capsys.readouterr()
    assert "moved 1 messages" in out.out and "about 0 left" in out.out
    assert _depth(config.EXECUTION_QUEUE)[0] == 3 and _depth(config.EXECUTION_DLQ)[0] == 0
