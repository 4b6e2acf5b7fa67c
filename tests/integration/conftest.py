"""Integration tests run the real adapters against emulated AWS, the tables in two emulators.

The `aws` fixture is parametrized: `moto` keeps every service in moto; `dynamodb-local` puts the
tables in Amazon's DynamoDB Local (as the local runtime does), which refuses what real DynamoDB
refuses (reserved words, invalid expressions and names) where moto is lenient. DynamoDB Local starts
once per session (~5 s) on a free port with a temporary folder; each test gets fresh tables.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from jobsched import tables
from jobsched.aws import clients
from jobsched_local import moto_dynamodb
from jobsched_local.aws_emulator import (
    DYNAMODB_ENDPOINT_VARIABLES,
    MOTO_LAMBDA_WITHOUT_DOCKER,
    free_port,
    moto_config_without_dynamodb,
)
from jobsched_local.dynamodb_local import DynamoDBLocal
from tests.support.aws import create_tables

MOTO = "moto"
DYNAMODB_LOCAL = "dynamodb-local"


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    server = DynamoDBLocal(tmp_path_factory.mktemp("dynamodb-local"), "127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=[MOTO, DYNAMODB_LOCAL])
def table_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def aws(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, table_backend: str
) -> Iterator[None]:
    """A fresh emulated AWS account with the service's tables in us-east-1, in moto or in DynamoDB Local."""
    server = request.getfixturevalue("dynamodb_local") if table_backend == DYNAMODB_LOCAL else None
    with emulated_aws(monkeypatch, server):
        yield


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Everything in moto, the tables included: for tests of the runtime's fixes to moto itself."""
    with emulated_aws(monkeypatch, None):
        yield


@pytest.fixture
def empty_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto with no tables yet: for tests of what the local runtime's provisioning creates."""
    _credentials(monkeypatch)
    with mock_aws():
        yield


def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", *DYNAMODB_ENDPOINT_VARIABLES):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def emulated_aws(monkeypatch: pytest.MonkeyPatch, server: DynamoDBLocal | None) -> Iterator[None]:
    _credentials(monkeypatch)
    if server is not None:
        for name in DYNAMODB_ENDPOINT_VARIABLES:
            monkeypatch.setenv(name, server.endpoint_url)
        # moto serves everything but DynamoDB: a client that missed the endpoint fails loudly.
        mock = mock_aws(config=moto_config_without_dynamodb())
    else:
        moto_dynamodb.install()
        mock = mock_aws(config=MOTO_LAMBDA_WITHOUT_DOCKER)
    _forget_cached_clients()
    try:
        with mock:
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            if server is not None:
                _drop_tables(dynamodb)
            create_tables(dynamodb)
            yield
    finally:
        _forget_cached_clients()


def _drop_tables(client: Any) -> None:
    existing = set(client.list_tables()["TableNames"])
    for table in tables.TABLES:
        if table.name in existing:
            client.delete_table(TableName=table.name)


def _forget_cached_clients() -> None:
    """Clients are cached per process and handlers keep settings from their import: make both afresh, so
    they reach this test's tables."""
    clients.client.cache_clear()
    for name in [m for m in sys.modules if m == "functions" or m.startswith("functions.")]:
        del sys.modules[name]
