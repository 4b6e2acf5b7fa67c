"""The KeyService wired to AWS: the jobs table for records, one API Gateway registry per region."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jobsched import config
from jobsched.keys.adapters.key_registry import ApiGatewayKeyRegistry
from jobsched.keys.adapters.key_store import DynamoKeyStore
from jobsched.keys.models import KeyService

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


def make_key_store(clients: ClientFactory, table_region: str) -> DynamoKeyStore:
    return DynamoKeyStore(clients("dynamodb", table_region), config.JOBS_TABLE)


def make_key_service(clients: ClientFactory, table_region: str, regions: Sequence[str]) -> KeyService:
    registries = [ApiGatewayKeyRegistry(clients("apigateway", region), region) for region in regions]
    return KeyService(make_key_store(clients, table_region), registries)
