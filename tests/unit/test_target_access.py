"""Which AWS resources a tenant's job may target (jobsched.targets.access), on fakes."""

from __future__ import annotations

from typing import Any

import pytest

from jobsched.jobs.models import EventBridgeTarget, LambdaTarget, SnsTarget, SqsTarget, StepFunctionsTarget
from jobsched.targets.access import (
    TargetNotAllowed,
    TenantAccess,
    authorize,
    is_service_resource,
    parse_arn,
    role_account,
    target_arn,
    target_field,
)

SERVICE = "123456789012"
TENANT = "111122223333"


class Granted:
    def __init__(self, role_arn: str | None = None, *listed: str) -> None:
        self.role_arn = role_arn
        self.listed = set(listed)
        self.asked: list[tuple[str, str]] = []

    def access(self, tenant: str, arn: str) -> TenantAccess:
        self.asked.append((tenant, arn))
        return TenantAccess(role_arn=self.role_arn, allow_listed=arn in self.listed)


@pytest.mark.parametrize(
    ("target", "arn", "field"),
    [
        (
            SqsTarget(type="sqs", queue_url=f"https://sqs.eu-west-1.amazonaws.com/{SERVICE}/q"),
            f"arn:aws:sqs:eu-west-1:{SERVICE}:q",
            "target.queue_url",
        ),
        (
            SqsTarget(type="sqs", queue_url=f"https://sqs.cn-north-1.amazonaws.com.cn/{SERVICE}/q.fifo"),
            f"arn:aws-cn:sqs:cn-north-1:{SERVICE}:q.fifo",
            "target.queue_url",
        ),
        (
            EventBridgeTarget(
                type="eventbridge", event_bus_arn=f"arn:aws:events:us-east-1:{SERVICE}:event-bus/b"
            ),
            f"arn:aws:events:us-east-1:{SERVICE}:event-bus/b",
            "target.event_bus_arn",
        ),
        (
            LambdaTarget(type="lambda", function_arn=f"arn:aws:lambda:us-east-1:{SERVICE}:function:f:live"),
            f"arn:aws:lambda:us-east-1:{SERVICE}:function:f:live",
            "target.function_arn",
        ),
        (
            SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{SERVICE}:t"),
            f"arn:aws:sns:us-east-1:{SERVICE}:t",
            "target.topic_arn",
        ),
        (
            StepFunctionsTarget(
                type="stepfunctions", state_machine_arn=f"arn:aws:states:us-east-1:{SERVICE}:stateMachine:m"
            ),
            f"arn:aws:states:us-east-1:{SERVICE}:stateMachine:m",
            "target.state_machine_arn",
        ),
    ],
)
def test_each_target_names_its_resource_and_its_field(target: Any, arn: str, field: str) -> None:
    assert (target_arn(target), target_field(target)) == (arn, field)


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sqs:us-east-1:{SERVICE}:jobsched-executions",
        f"arn:aws:sqs:eu-west-1:{SERVICE}:jobsched-executions-dlq",
        f"arn:aws:events:us-east-1:{SERVICE}:event-bus/jobsched-bus",
        f"arn:aws:lambda:us-east-1:{SERVICE}:function:jobsched-regional-ExecutorFunction:live",
        f"arn:aws:sns:us-east-1:{SERVICE}:jobsched-alarms-critical",
        f"arn:aws:states:us-east-1:{SERVICE}:stateMachine:JobSched-anything",
    ],
)
def test_the_services_own_resources_are_recognised_in_its_account(arn: str) -> None:
    resource = parse_arn(arn)
    assert is_service_resource(resource, SERVICE)
    assert is_service_resource(resource, None)  # account unknown: refused in any account
    assert not is_service_resource(resource, "999999999999")


def test_a_name_that_merely_contains_the_prefix_is_not_the_services() -> None:
    assert not is_service_resource(parse_arn(f"arn:aws:sqs:us-east-1:{SERVICE}:my-jobsched-queue"), SERVICE)


def test_the_services_own_resource_is_refused_even_when_granted() -> None:
    own = SqsTarget(
        type="sqs", queue_url=f"https://sqs.us-east-1.amazonaws.com/{SERVICE}/jobsched-executions"
    )
    granted = Granted(
        f"arn:aws:iam::{SERVICE}:role/r", f"arn:aws:sqs:us-east-1:{SERVICE}:jobsched-executions"
    )
    with pytest.raises(TargetNotAllowed, match="scheduler's own"):
        authorize("acme", own, service_account=SERVICE, access=granted)
    assert granted.asked == []  # refused before any lookup


def test_the_tenants_role_opens_its_account_and_the_allow_list_single_arns() -> None:
    in_tenant_account = SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{TENANT}:t")
    listed = SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{SERVICE}:ok")
    unlisted = SnsTarget(type="sns", topic_arn=f"arn:aws:sns:us-east-1:{SERVICE}:no")
    granted = Granted(f"arn:aws:iam::{TENANT}:role/jobsched-target", listed.topic_arn)

    grant = authorize("acme", in_tenant_account, service_account=SERVICE, access=granted)
    assert (grant.role_arn, grant.resource.region, grant.resource.account) == (
        f"arn:aws:iam::{TENANT}:role/jobsched-target",
        "us-east-1",
        TENANT,
    )
    assert authorize("acme", listed, service_account=SERVICE, access=granted).role_arn is None
    with pytest.raises(TargetNotAllowed, match="allow-list"):
        authorize("acme", unlisted, service_account=SERVICE, access=granted)
    assert {tenant for tenant, _ in granted.asked} == {"acme"}


@pytest.mark.parametrize(
    "bad",
    [
        "arn:aws:iam::12345:role/r",
        "arn:aws:iam::123456789012:user/u",
        "arn:aws:sts::123456789012:role/r",
        "role/r",
        "arn:aws:iam::123456789012:role/",
    ],
)
def test_a_role_arn_must_be_an_iam_role(bad: str) -> None:
    with pytest.raises(ValueError, match="IAM role ARN"):
        role_account(bad)
    assert role_account("arn:aws:iam::123456789012:role/path/jobsched-target") == "123456789012"
