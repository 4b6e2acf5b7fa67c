"""How the CLI reaches AWS: the standard credential chain, or dummy credentials for a local runtime."""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from jobsched.keys.adapters.key_service import ClientFactory

LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
# An operator's command should fail within seconds, not after the SDK's long default retries.
_CLI_CONFIG = Config(connect_timeout=3, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})


def endpoint_url() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


def is_loopback(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_session() -> boto3.Session:
    """The standard chain; against a loopback endpoint, dummy credentials when the chain has none."""
    if not is_loopback(endpoint_url()):
        return boto3.Session()
    # No instance-metadata probing for a local endpoint: it would only add a timeout on a laptop.
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.Session()
    if session.get_credentials() is None:
        session = boto3.Session(**LOCAL_CREDENTIALS)
    return session


def client_factory(session: boto3.Session) -> ClientFactory:
    def make(service: str, region: str) -> Any:
        return session.client(service, region_name=region, config=_CLI_CONFIG)

    return make
