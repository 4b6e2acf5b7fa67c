"""Payload templates: what a call fills in, JSON-safely, and which placeholders a job may use (no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from jobsched.execution.fire import Trigger
from jobsched.execution.ports import Delivery
from jobsched.execution.templates import render, rendered_target, template_problems
from jobsched.jobs.models import EventBridgeTarget, HttpTarget, JobSpec, SqsTarget

DELIVERY = Delivery(
    tenant="acme",
    execution_id='exe_20261201T100000Z_ab"c',
    scheduled_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    attempt=2,
    trigger=Trigger.SCHEDULE,
)


def test_a_template_fills_every_placeholder_json_escaped() -> None:
    body = '{"at": "{{scheduled_time}}", "id": "{{ execution_id }}", "try": {{attempt}}, "job": "{{job_id}}"}'
    target = HttpTarget(url="https://hooks.example.com/a", body=body, template=True)
    sent = rendered_target(target, 'job_"x"', DELIVERY)
    assert isinstance(sent, HttpTarget)
    assert json.loads(sent.body or "") == {
        "at": "2026-12-01T10:00:00Z",
        "id": 'exe_20261201T100000Z_ab"c',
        "try": 2,
        "job": 'job_"x"',
    }
    assert target.body == body  # the job's own target is left as it is


def test_without_template_the_payload_goes_verbatim() -> None:
    target = SqsTarget(
        type="sqs", queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/q", body="{{attempt}}"
    )
    assert rendered_target(target, "job_a", DELIVERY) is target
    assert render("{{unknown}} {{attempt}}", {"attempt": "3"}) == "{{unknown}} 3"


def test_each_target_type_fills_its_payload_field() -> None:
    bus = EventBridgeTarget(
        type="eventbridge",
        event_bus_arn="arn:aws:events:us-east-1:123456789012:event-bus/orders",
        detail='{"run": "{{execution_id}}"}',
        template=True,
    )
    sent = rendered_target(bus, "job_a", DELIVERY)
    assert isinstance(sent, EventBridgeTarget)
    assert json.loads(sent.detail) == {"run": DELIVERY.execution_id}


def spec(target: dict[str, Any]) -> JobSpec:
    return JobSpec.model_validate(
        {"name": "n", "schedule": {"expression": "rate(5 minutes)"}, "target": target}
    )


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"url": "https://h.example.com", "body": "{{scheduled_tme}}", "template": True}, "target.body"),
        (
            {
                "type": "lambda",
                "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "payload": '{"a": "{{tenant}}"}',
                "template": True,
            },
            "target.payload",
        ),
    ],
)
def test_an_unknown_placeholder_is_a_problem_naming_the_field(target: dict[str, Any], field: str) -> None:
    [(named, why)] = template_problems(spec(target).target)
    assert named == field and "unknown placeholder" in why


def test_unknown_braces_are_fine_when_the_target_is_not_a_template() -> None:
    assert template_problems(spec({"url": "https://h.example.com", "body": "{{anything}}"}).target) == []
    with pytest.raises(ValueError, match="template"):
        spec({"url": "https://h.example.com", "template": "yes please"})


def test_creating_a_job_with_an_unknown_placeholder_is_a_422_on_the_field() -> None:
    from jobsched.api.auth import Principal
    from jobsched.config import Role, Tier
    from jobsched.errors import InvalidInput
    from jobsched.jobs.service import JobService
    from jobsched.settings import Settings
    from tests.support.fakes import InMemoryJobs

    service = JobService(
        InMemoryJobs(), Settings(region="us-east-1"), resolver=lambda host, port: ["93.184.215.14"]
    )
    body = {"url": "https://h.example.com", "body": '{"a": "{{job}}"}', "template": True}
    with pytest.raises(InvalidInput) as caught:
        service.create(Principal("acme", Role.OPERATOR, Tier.BASIC, "k"), spec(body))
    assert caught.value.details[0]["field"] == "target.body"
