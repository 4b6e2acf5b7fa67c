"""Through `jobsched local`: a template target gets its placeholders filled at each call; a plain one not."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import RuntimeProcess, call
from tests.e2e.test_execution_e2e import Receiver, demo_key, finished, receiver, wait_for

pytestmark = pytest.mark.e2e
__all__ = ["receiver"]  # the fixture, imported to be used here

BODY = '{"at": "{{scheduled_time}}", "run": "{{execution_id}}", "try": {{attempt}}, "job": "{{job_id}}"}'


def make(runtime: RuntimeProcess, key: str, receiver: Receiver, **target: object) -> dict[str, object]:
    body = {
        "name": "templated",
        "schedule": {"expression": "rate(1 day)"},
        "target": {"url": f"http://127.0.0.1:{receiver.port}/hook", "body": BODY, **target},
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 201, reply.body
    return dict(reply.body)


def test_a_template_body_is_filled_and_a_plain_one_is_sent_verbatim(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    job = make(runtime, key, receiver, template=True)
    run = call(runtime.port, "POST", f"/api/v1/jobs/{job['job_id']}/run", key=key)
    assert run.status == 202
    [record] = wait_for(lambda: finished(runtime, key, str(job["job_id"]), 1), "the templated run")
    [delivery] = receiver.deliveries
    assert json.loads(delivery.body) == {
        "at": record["scheduled_at"],
        "run": run.body["execution_id"],
        "try": 1,
        "job": job["job_id"],
    }
    assert delivery.headers["x-jobsched-scheduled-time"] == record["scheduled_at"]

    plain = make(runtime, key, receiver)
    call(runtime.port, "POST", f"/api/v1/jobs/{plain['job_id']}/run", key=key)
    wait_for(lambda: finished(runtime, key, str(plain["job_id"]), 1), "the plain run")
    assert receiver.deliveries[1].body == BODY.encode()


def test_an_unknown_placeholder_is_a_422_naming_the_field(
    runtime: RuntimeProcess, receiver: Receiver
) -> None:
    key = demo_key(runtime)
    body = {
        "name": "typo",
        "schedule": {"expression": "rate(1 day)"},
        "target": {
            "url": f"http://127.0.0.1:{receiver.port}/hook",
            "body": "{{scheduled_at}}",
            "template": True,
        },
    }
    reply = call(runtime.port, "POST", "/api/v1/jobs", key=key, body=body)
    assert reply.status == 422
    assert [d["field"] for d in reply.body["error"]["details"]] == ["target.body"]
