"""`jobsched tokens` and `jobsched clients` against moto: token access, local user tokens, OAuth clients."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from jobsched import config
from jobsched.config import Tier
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.clients import ClientService, LocalClientRegistry, check_client_secret
from jobsched.keys.models import KeyService, KeyStatus
from jobsched_cli import identity_commands
from jobsched_local.provision import ensure_api
from jobsched_local.token_issuer import LOCAL_AUDIENCE, LocalIssuer

REGIONS = ("us-east-1",)


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def keys(aws: None) -> KeyService:
    ensure_api(clients("apigateway", "us-east-1"))
    return make_key_service(clients, "us-east-1", REGIONS)


@pytest.fixture
def client_service(aws: None) -> ClientService:
    return ClientService(
        DynamoClientStore(clients("dynamodb", "us-east-1"), config.JOBS_TABLE), LocalClientRegistry()
    )


def test_enable_tokens_makes_the_usage_key_once_and_again_for_a_new_tier(keys: KeyService) -> None:
    out = io.StringIO()
    first = identity_commands.enable_tokens(keys, "acme", "basic", out)
    assert identity_commands.enable_tokens(keys, "acme", "basic", out) == first
    premium = identity_commands.enable_tokens(keys, "acme", "premium", out)
    assert premium.tier is Tier.PREMIUM and premium.key_id != first.key_id
    statuses = {record.key_id: record.status for record in keys.list("acme")}
    assert statuses == {first.key_id: KeyStatus.REVOKED, premium.key_id: KeyStatus.ACTIVE}
    assert "tier premium" in out.getvalue()


def test_issue_prints_a_signed_user_token_last(keys: KeyService, tmp_path: Path) -> None:
    issuer = LocalIssuer(tmp_path, "http://127.0.0.1:8080")
    out = io.StringIO()
    identity_commands.issue_token(
        issuer,
        keys,
        tenant="acme",
        role="viewer",
        scopes=("jobs.read",),
        tags={"team": "billing"},
        ttl_seconds=900,
        tier=None,
        subject="alice",
        out=out,
    )
    token = out.getvalue().splitlines()[-1]
    claims = jwt.decode(
        token, jwt.PyJWK(issuer.public_jwk).key, algorithms=["RS256"], audience=LOCAL_AUDIENCE
    )
    assert (claims["sub"], claims["custom:tenant"], claims["cognito:groups"]) == ("alice", "acme", ["viewer"])
    assert claims["scope"] == "jobsched/jobs.read" and claims["custom:job_tags"] == "team:billing"
    assert claims["exp"] - claims["iat"] == 900
    assert keys.current_usage_key("acme") is not None  # standard unless told otherwise
    assert "tier standard" in out.getvalue()


def test_clients_are_created_listed_and_revoked(keys: KeyService, client_service: ClientService) -> None:
    out = io.StringIO()
    record = identity_commands.create_client(
        client_service,
        keys,
        tenant="acme",
        role="viewer",
        scopes=("jobs.read",),
        tags={},
        tier="basic",
        token_url="http://127.0.0.1:8080/oauth2/token",
        out=out,
    )
    secret = out.getvalue().splitlines()[-1]
    store = DynamoClientStore(clients("dynamodb", "us-east-1"), config.JOBS_TABLE)
    assert check_client_secret(store, record.client_id, secret) is not None
    assert check_client_secret(store, record.client_id, secret + "x") is None

    listing = io.StringIO()
    identity_commands.list_clients(client_service, "acme", listing)
    assert record.client_id in listing.getvalue() and secret not in listing.getvalue()
    identity_commands.revoke_client(client_service, record.client_id, io.StringIO())
    assert check_client_secret(store, record.client_id, secret) is None

    empty = io.StringIO()
    identity_commands.list_clients(client_service, "globex", empty)
    assert empty.getvalue() == "No clients for tenant globex.\n"
