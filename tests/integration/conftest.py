from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from jobsched_local import moto_dynamodb
from tests.support.aws import create_tables


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh emulated AWS account (moto) with the service's tables in us-east-1."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    moto_dynamodb.install()
    # Lambda targets are invoked asynchronously; moto's Lambda then needs no Docker to accept the call.
    with mock_aws(config={"lambda": {"use_docker": False}}):
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        yield
