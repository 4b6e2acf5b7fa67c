"""Catch-up and backfill against the adapters: the job's policy read back from the table by the local clock,
fires sent to SQS in batches, and the schedule's retry age from the job's window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from jobsched.execution.adapters.fire_queue import SqsFireQueue
from jobsched.execution.fire import FireMessage, Trigger
from jobsched.jobs.models import JobSpec
from jobsched.keyscheme import JobKey
from jobsched.scheduling.catch_up import CatchUp
from jobsched_local.scheduling_runtime import job_times
from tests.integration.scheduling_support import SERVING, client_for, job_service, principal

pytestmark = pytest.mark.usefixtures("aws")


def test_the_clock_reads_the_jobs_catch_up_policy_from_the_table() -> None:
    body: dict[str, Any] = {
        "name": "report",
        "schedule": {"expression": "rate(10 minutes)"},
        "target": {"url": "https://hooks.example.com/report"},
    }
    service = job_service()
    dynamodb = client_for("dynamodb", SERVING)
    chosen = service.create(
        principal(), JobSpec.model_validate({**body, "catch_up": {"policy": "all", "window": "P2D"}}), None
    ).job
    default = service.create(principal(), JobSpec.model_validate(body), None).job

    times = job_times(dynamodb, JobKey("acme", chosen["job_id"]))
    assert times is not None and times.catch_up == CatchUp.model_validate({"policy": "all", "window": "P2D"})
    plain = job_times(dynamodb, JobKey("acme", default["job_id"]))
    assert plain is not None and plain.catch_up == CatchUp()


def test_a_backfill_batch_reaches_the_queue_whole() -> None:
    sqs = boto3.client("sqs", region_name=SERVING)
    sqs.create_queue(QueueName="catch-up-test")
    queue = SqsFireQueue(sqs, "catch-up-test")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    sent = [
        FireMessage(
            tenant="acme",
            job_id="job_a",
            job_version=1,
            scheduled_time=start + timedelta(minutes=n),
            trigger=Trigger.BACKFILL,
        )
        for n in range(23)
    ]
    queue.send_many(sent)
    received: list[FireMessage] = []
    while True:
        found = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", [])
        if not found:
            break
        received += [FireMessage.model_validate_json(m["Body"]) for m in found]
    assert sorted(m.scheduled_time for m in received) == [m.scheduled_time for m in sent]
    assert {m.trigger for m in received} == {Trigger.BACKFILL}
