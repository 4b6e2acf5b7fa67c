"""Failure and recovery notices through the real adapters on moto: the job's health transition, the record
on the execution, the e-mail on the region's SNS topic (read through the local outbox subscription)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from jobsched import config
from jobsched.errors import InvalidInput
from jobsched.execution.adapters.execution_store import DynamoExecutionStore
from jobsched.execution.adapters.job_reader import DynamoJobReader
from jobsched.execution.adapters.notification_channels import NotificationSender, notification_topic_arn
from jobsched.execution.executor import Executor, Result
from jobsched.execution.notifications import Notifier
from jobsched.jobs.models import JobSpec
from jobsched.targets.adapters.invokers import HttpInvoker
from jobsched.targets.guard import TargetPolicy
from jobsched_local.lambda_context import LOCAL_ACCOUNT_ID
from jobsched_local.scheduling_provision import NOTIFICATION_OUTBOX, ensure_notification_topic
from tests.integration.test_executor import (
    ADMIN,
    BAD,
    LEASE,
    OK,
    Clock,
    RecordingQueue,
    ScriptedTarget,
    clock,
    fire,
    history,
    jobs,
    make_job,
)

pytestmark = pytest.mark.usefixtures("aws")
__all__ = ["clock", "jobs"]  # the fixtures, imported to be used here
REGION = "us-east-1"


def notifying_executor(clock: Clock, target: ScriptedTarget) -> Executor:
    dynamodb = boto3.client("dynamodb")
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = ensure_notification_topic(sns, sqs)
    assert topic == notification_topic_arn(REGION, LOCAL_ACCOUNT_ID)
    store, jobs = (
        DynamoExecutionStore(dynamodb, config.EXECUTIONS_TABLE),
        DynamoJobReader(dynamodb, config.JOBS_TABLE),
    )
    sender = NotificationSender(HttpInvoker(TargetPolicy()), sns, topic)
    return Executor(
        store=store,
        jobs=jobs,
        queue=RecordingQueue(),
        invoker=target,
        lease=LEASE,
        clock=clock,
        notifier=Notifier(jobs, sender, store, clock=clock),
    )


def outbox() -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=NOTIFICATION_OUTBOX)["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_a_failure_and_its_recovery_are_each_mailed_once_and_recorded(clock: Clock, jobs: Any) -> None:
    job = make_job(
        jobs,
        retry_policy={"max_attempts": 1},
        notifications={"email": "ops@example.com"},
    )
    target = ScriptedTarget(BAD, BAD, OK, OK)
    executor = notifying_executor(clock, target)
    assert executor.process(fire(job)) is Result.FAILED
    assert executor.process(fire(job, execution_id="exe_second")) is Result.FAILED
    [mail] = outbox()
    assert mail["Subject"] == "jobsched: job report failed"
    assert mail["MessageAttributes"]["email"]["Value"] == "ops@example.com"
    assert "status_code: 503" in mail["Message"]

    assert executor.process(fire(job, execution_id="exe_third")) is Result.SUCCEEDED
    assert executor.process(fire(job, execution_id="exe_fourth")) is Result.SUCCEEDED
    [mail] = outbox()
    assert mail["MessageAttributes"]["jobsched-event"]["Value"] == "job.recovered"

    notices = {item["execution_id"]: item["notification"] for item in history(job["job_id"])}
    sent = {execution_id: n["sent"] for execution_id, n in notices.items() if n}
    assert sorted(sent.values()) == ["failure", "recovery"]
    assert sent["exe_third"] == "recovery"
    assert all(n["channels"] == ["email"] and n["errors"] == {} for n in notices.values() if n)


def test_a_notice_webhook_inside_the_network_is_refused_at_create(jobs: Any) -> None:
    spec = JobSpec.model_validate(
        {
            "name": "n",
            "schedule": {"expression": "rate(5 minutes)"},
            "target": {"url": "https://hooks.example.com/r"},
            "notifications": {"webhook": "https://169.254.169.254/latest"},
        }
    )
    with pytest.raises(InvalidInput) as caught:
        jobs.create(ADMIN, spec)
    assert caught.value.details[0]["field"] == "notifications.webhook"
