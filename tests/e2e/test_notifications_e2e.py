"""Through `jobsched local`: a job's failure and its recovery are each notified once, by a signed webhook
and by e-mail on the region's SNS topic (read through the runtime's outbox queue); both on the execution."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobsched.targets.webhook import verify
from jobsched_local.scheduling_provision import NOTIFICATION_OUTBOX
from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import Receiver, create_job, demo_key, finished, receiver, wait_for
from tests.e2e.test_fire_security_e2e import aws

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here


def mails(runtime: RuntimeProcess) -> list[dict[str, Any]]:
    sqs = aws(runtime, "sqs")
    url = sqs.get_queue_url(QueueName=NOTIFICATION_OUTBOX)["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def test_a_failure_and_its_recovery_are_notified_once_each(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    notify = f"http://127.0.0.1:{receiver.port}/notify"
    job = create_job(
        runtime,
        key,
        receiver,
        "rate(1 day)",
        retry_policy={"max_attempts": 1},
        notifications={"on": ["failure", "recovery"], "webhook": notify, "email": "ops@example.com"},
    )
    assert job["notifications"]["webhook"] == notify
    run = f"/api/v1/jobs/{job['job_id']}/run"

    receiver.script = [500, 200, 500]  # two runs fail (the notice between them is taken): one notice
    for count in (1, 2):
        assert call(runtime.port, "POST", run, key=key).status == 202
        wait_for(lambda count=count: finished(runtime, key, job["job_id"], count), "a failed run")
    receiver.script = []
    for count in (3, 4):  # two runs succeed: one recovery
        assert call(runtime.port, "POST", run, key=key).status == 202
        wait_for(lambda count=count: finished(runtime, key, job["job_id"], count), "a succeeded run")

    def noticed() -> list[dict[str, Any]] | None:
        found = finished(runtime, key, job["job_id"], 4) or []
        return found if len([i for i in found if i.get("notification")]) == 2 else None

    items = wait_for(noticed, "both notices recorded")
    recorded = sorted((i["status"], i["notification"]["sent"]) for i in items if i.get("notification"))
    assert recorded == [("failed", "failure"), ("succeeded", "recovery")]
    assert [i["notification"]["errors"] for i in items if i.get("notification")] == [{}, {}]

    notices = [d for d in receiver.deliveries if "x-jobsched-event" in d.headers]
    assert [d.headers["x-jobsched-event"] for d in notices] == ["job.failed", "job.recovered"]
    assert all(verify(job["webhook_secret"], d.headers, d.body) for d in notices)
    assert json.loads(notices[0].body)["job_id"] == job["job_id"]

    received = wait_for(lambda: mails(runtime), "the failure e-mail")
    received += wait_for(lambda: mails(runtime), "the recovery e-mail") if len(received) < 2 else []
    assert sorted(m["MessageAttributes"]["jobsched-event"]["Value"] for m in received) == [
        "job.failed",
        "job.recovered",
    ]
    assert {m["MessageAttributes"]["email"]["Value"] for m in received} == {"ops@example.com"}


def test_notifications_that_cannot_be_are_a_422_naming_the_field(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    base = {
        "name": "n",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook"},
    }
    for notifications, field in (
        ({"webhook": "http://127.0.0.1:9/inside"}, "notifications.webhook"),
        ({"email": "nobody"}, "notifications.email"),
        ({"on": ["failure"]}, "notifications"),
    ):
        reply = call(
            runtime.port, "POST", "/api/v1/jobs", key=key, body={**base, "notifications": notifications}
        )
        assert reply.status == 422, reply.body
        assert field in [d["field"] for d in reply.body["error"]["details"]], reply.body
