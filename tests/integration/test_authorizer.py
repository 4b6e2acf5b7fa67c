"""The REQUEST authorizer handler against moto: allow with the principal's context, else "Unauthorized"."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import boto3
import pytest

from jobsched.api.auth import Principal, allow_policy
from jobsched.config import Role, Tier
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.models import KeyService
from jobsched_local.provision import ensure_api

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/api/v1/jobs/j-1"
REGIONS = ("us-east-1",)


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def service(aws: None) -> KeyService:
    ensure_api(clients("apigateway", "us-east-1"))
    return make_key_service(clients, "us-east-1", REGIONS)


@pytest.fixture
def authorizer(aws: None) -> ModuleType:
    return importlib.import_module("functions.authorizer.handler")


def request_event(key: str | None, header: str = "x-api-key") -> dict[str, Any]:
    headers = {header: key} if key is not None else {}
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers}


@pytest.mark.parametrize("header", ["x-api-key", "X-Api-Key", "X-API-KEY"])
def test_active_key_is_allowed_with_its_context(
    service: KeyService, authorizer: ModuleType, header: str
) -> None:
    record, value = service.create("acme", "standard", "operator")
    answer = authorizer.handler(request_event(value, header), None)
    assert answer["principalId"] == record.key_id
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "execute-api:Invoke"
    # The whole stage, so API Gateway's cached answer serves every route of the key.
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:api1/prod/*/*"]
    assert answer["context"] == {
        "tenant": "acme",
        "role": "operator",
        "tier": "standard",
        "key_id": record.key_id,
    }
    assert value not in repr(answer)


@pytest.mark.parametrize("key", [None, "", "jsk_unknown_key_value_0123456789"])
def test_missing_or_unknown_key_is_unauthorized(
    service: KeyService, authorizer: ModuleType, key: str | None
) -> None:
    service.create("acme", "basic", "viewer")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(key), None)


def test_revoked_key_is_unauthorized(service: KeyService, authorizer: ModuleType) -> None:
    record, value = service.create("acme", "basic", "viewer")
    service.revoke(record.key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(value), None)


def test_the_policy_covers_the_whole_stage_in_the_method_arns_partition() -> None:
    principal = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.BASIC, key_id="key_9")
    answer = allow_policy(
        principal, "arn:aws-cn:execute-api:cn-north-1:123456789012:api9/prod/POST/api/v1/jobs"
    )
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": ["arn:aws-cn:execute-api:cn-north-1:123456789012:api9/prod/*/*"],
    }
    assert answer["principalId"] == "key_9" and answer["context"]["tenant"] == "acme"
