"""OAuth clients as Cognito app clients: the calls the registry makes (botocore's Stubber, no network)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from jobsched.keys.adapters.cognito_clients import CognitoClientRegistry


@pytest.fixture
def cognito() -> Iterator[tuple[CognitoClientRegistry, Stubber]]:
    client = boto3.client(
        "cognito-idp", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    asked: list[str] = []

    def pool() -> str:
        asked.append("pool")
        return "us-east-1_Pool"

    with Stubber(client) as stubber:
        yield CognitoClientRegistry(client, pool), stubber
    assert asked == ["pool"]  # looked up once, on first use


def test_a_client_credentials_app_client_with_the_resource_servers_scopes(
    cognito: tuple[CognitoClientRegistry, Stubber],
) -> None:
    registry, stubber = cognito
    stubber.add_response(
        "create_user_pool_client",
        {"UserPoolClient": {"ClientId": "abc123", "ClientSecret": "s3cret-s3cret-s3cret-s3cret"}},
        {
            "UserPoolId": "us-east-1_Pool",
            "ClientName": "acme-1",
            "GenerateSecret": True,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthScopes": ["jobsched/jobs.read", "jobsched/executions.read"],
            "AccessTokenValidity": 1440,  # a day: one priced token request a client and day
            "TokenValidityUnits": {"AccessToken": "minutes"},
            "PreventUserExistenceErrors": "ENABLED",
            "EnableTokenRevocation": True,
        },
    )
    stubber.add_response(
        "delete_user_pool_client", {}, {"UserPoolId": "us-east-1_Pool", "ClientId": "abc123"}
    )
    stubber.add_client_error("delete_user_pool_client", "ResourceNotFoundException")

    secret = "s3cret-s3cret-s3cret-s3cret"
    assert registry.create("acme-1", ("jobs.read", "executions.read")) == ("abc123", secret)
    registry.delete("abc123")
    registry.delete("abc123")  # already gone: revoking again is fine
    stubber.assert_no_pending_responses()
