"""Which AWS resources a tenant's job may target, and with whose credentials. No AWS in here.

The executor's own identity can reach the service's own queues, tables, buses and functions, so a job may
never target those (anything named with the service prefix in the service's account): that is refused when
the job is written and again when it runs, and IAM denies it explicitly as well. Beyond that:
- a resource in the account of the tenant's target role (set by an admin: `jobsched tenants set-role`) is
  called with that role, assumed with the tenant id as ExternalId (the role's trust policy requires it);
- any other resource only if an operator put its exact ARN on the tenant's allow-list
  (`jobsched targets allow`); it is called with the executor's own credentials.
Everything else is refused (docs/security.md, "Fire messages and AWS targets").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from jobsched import config
from jobsched.jobs.models import (
    AwsTarget,
    EventBridgeTarget,
    LambdaTarget,
    SnsTarget,
    SqsTarget,
    StepFunctionsTarget,
)

ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]{1,512}$")
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>\d{12}):"
    r"(?P<resource>.+)$"
)
_SQS_URL = re.compile(
    r"^https://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?P<cn>\.cn)?/(?P<account>\d{12})/(?P<name>[^/]+)$"
)
# Where the resource's own name starts in the resource part of each target service's ARN.
_NAME_PREFIXES = {"events": "event-bus/", "lambda": "function:", "states": "stateMachine:"}


class TargetNotAllowed(Exception):
    """The job may not target this resource; the message says why (safe to show the tenant)."""


@dataclass(frozen=True)
class ResourceArn:
    arn: str
    service: str
    region: str
    account: str
    name: str


@dataclass(frozen=True)
class TenantAccess:
    """What an operator granted a tenant, as far as one ARN is concerned."""

    role_arn: str | None
    allow_listed: bool


@dataclass(frozen=True)
class Grant:
    """May call `resource`: as `role_arn` (assumed, ExternalId = tenant), or as the executor if None."""

    resource: ResourceArn
    role_arn: str | None


class TargetAccessReader(Protocol):
    def access(self, tenant: str, arn: str) -> TenantAccess: ...


def role_account(role_arn: str) -> str:
    match = ROLE_ARN_PATTERN.fullmatch(role_arn)
    if match is None:
        raise ValueError("must be an IAM role ARN: arn:aws:iam::<12-digit account>:role/<name>")
    return match["account"]


def target_arn(target: AwsTarget) -> str:
    """The ARN of the resource an AWS target calls (an SQS target names its queue by URL)."""
    if isinstance(target, SqsTarget):
        match = _SQS_URL.fullmatch(target.queue_url)
        if match is None:
            raise TargetNotAllowed("queue_url is not an SQS queue URL")
        partition = "aws-cn" if match["cn"] else "aws"
        return f"arn:{partition}:sqs:{match['region']}:{match['account']}:{match['name']}"
    if isinstance(target, EventBridgeTarget):
        return target.event_bus_arn
    if isinstance(target, LambdaTarget):
        return target.function_arn
    if isinstance(target, SnsTarget):
        return target.topic_arn
    return target.state_machine_arn


def target_field(target: AwsTarget) -> str:
    """The request field that names the target's resource, for a 422 that points at it."""
    names: dict[type, str] = {
        SqsTarget: "queue_url",
        EventBridgeTarget: "event_bus_arn",
        LambdaTarget: "function_arn",
        SnsTarget: "topic_arn",
        StepFunctionsTarget: "state_machine_arn",
    }
    return f"target.{names[type(target)]}"


def parse_arn(arn: str) -> ResourceArn:
    match = _ARN.fullmatch(arn)
    if match is None:
        raise TargetNotAllowed(f"{arn} is not an ARN")
    resource = match["resource"]
    prefix = _NAME_PREFIXES.get(match["service"], "")
    name = resource.removeprefix(prefix) if prefix else resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return ResourceArn(
        arn=arn, service=match["service"], region=match["region"], account=match["account"], name=name
    )


def is_service_resource(resource: ResourceArn, service_account: str | None) -> bool:
    """Named like the service's own resources, in its account (in any account if that is not known)."""
    own_name = resource.name.lower().startswith(config.SERVICE)
    return own_name and (service_account is None or resource.account == service_account)


def authorize(
    tenant: str, target: AwsTarget, *, service_account: str | None, access: TargetAccessReader
) -> Grant:
    """How `tenant`'s job may call `target`, or TargetNotAllowed."""
    resource = parse_arn(target_arn(target))
    if is_service_resource(resource, service_account):
        raise TargetNotAllowed(f"{resource.arn} is one of the scheduler's own resources")
    granted = access.access(tenant, resource.arn)
    if granted.role_arn is not None and role_account(granted.role_arn) == resource.account:
        return Grant(resource, granted.role_arn)
    if granted.allow_listed:
        return Grant(resource, None)
    raise TargetNotAllowed(
        f"{resource.arn} is neither in the account of the tenant's target role nor on the tenant's "
        "allow-list (ask an operator: jobsched tenants set-role / jobsched targets allow)"
    )
