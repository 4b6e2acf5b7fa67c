"""Payload templates through the executor's target dispatcher against moto: a queue gets the filled body."""

from __future__ import annotations

import json

import boto3
import pytest

from jobsched.jobs.models import SqsTarget
from jobsched.targets.adapters.invokers import HttpInvoker, TargetDispatcher
from jobsched.targets.guard import TargetPolicy
from tests.integration.test_aws_targets import DELIVERY, SERVICE_ACCOUNT, allow, invoker, job_with

pytestmark = pytest.mark.usefixtures("aws")


def test_a_templated_queue_body_is_filled_at_the_call() -> None:
    url = boto3.client("sqs").create_queue(QueueName="their-templated-queue")["QueueUrl"]
    target = SqsTarget(
        type="sqs",
        queue_url=f"https://sqs.us-east-1.amazonaws.com/{SERVICE_ACCOUNT}/their-templated-queue",
        body='{"run": "{{execution_id}}", "at": "{{scheduled_time}}", "n": {{attempt}}, "job": "{{job_id}}"}',
        template=True,
    )
    allow(f"arn:aws:sqs:us-east-1:{SERVICE_ACCOUNT}:their-templated-queue")
    dispatcher = TargetDispatcher(HttpInvoker(TargetPolicy()), invoker())

    outcome = dispatcher.invoke(job_with(target), None, DELIVERY)

    assert outcome.succeeded, outcome.error
    [message] = boto3.client("sqs").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"]) == {
        "run": DELIVERY.execution_id,
        "at": "2026-12-01T10:00:00Z",
        "n": 1,
        "job": "job_1",
    }
