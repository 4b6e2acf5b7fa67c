"""boto3 clients, built once per container (outside the handler) and shared by the adapters.

boto3 honours AWS_ENDPOINT_URL, which is how the local runtime points them at its emulated AWS.
"""

from __future__ import annotations

import os
import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short connect/read timeouts and adaptive retries: a Lambda should fail fast and retry throttles.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 4, "mode": "adaptive"})
# boto3's default session is not safe to make clients from in several threads at once, and clients are made
# on first use, which may be in the executor's worker threads (one per record of a batch).
_MAKING = threading.Lock()


@cache
def client(service: str, region: str | None = None) -> Any:
    # Lambda sets AWS_REGION; boto3 itself only reads AWS_DEFAULT_REGION.
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    with _MAKING:
        return boto3.client(service, region_name=region, config=_CONFIG)


def assumed_client(service: str, region: str, credentials: dict[str, Any]) -> Any:
    """A client acting as an assumed role (STS AssumeRole's Credentials); not cached, the keys expire."""
    with _MAKING:
        return boto3.client(
            service,
            region_name=region,
            config=_CONFIG,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )


class DeferredClient:
    """A client made on first use, then shared (`client`'s cache): importing a handler loads no service
    model. A service only some routes call (a pause never reads SQS) is never paid for by the others; the
    client every request uses (DynamoDB) is made by the container's first request instead of its init
    (~50-80 ms moved, not saved: docs/benchmarks.md, Cold start)."""

    def __init__(self, service: str, region: str | None = None) -> None:
        self._service = service
        self._region = region

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._region), name)


def deferred_client(service: str, region: str | None = None) -> Any:
    return DeferredClient(service, region)
