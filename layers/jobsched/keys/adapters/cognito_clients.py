"""OAuth clients as Cognito app clients: client-credentials only, with the resource server's scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobsched.keys.clients import CLIENT_TOKEN_VALIDITY, RESOURCE_SERVER


class CognitoClientRegistry:
    def __init__(self, client: Any, user_pool_id: str | Callable[[], str]) -> None:
        """`user_pool_id` may be a function, asked once on first use (the pool of the primary region)."""
        self._client = client
        self._pool_id = user_pool_id

    @property
    def _pool(self) -> str:
        if callable(self._pool_id):
            self._pool_id = self._pool_id()
        return self._pool_id

    def create(self, name: str, scopes: tuple[str, ...]) -> tuple[str, str]:
        response = self._client.create_user_pool_client(
            UserPoolId=self._pool,
            ClientName=name,
            GenerateSecret=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=[f"{RESOURCE_SERVER}/{scope}" for scope in scopes],
            AccessTokenValidity=int(CLIENT_TOKEN_VALIDITY.total_seconds() // 60),
            TokenValidityUnits={"AccessToken": "minutes"},
            PreventUserExistenceErrors="ENABLED",
            EnableTokenRevocation=True,
        )
        created = response["UserPoolClient"]
        return str(created["ClientId"]), str(created["ClientSecret"])

    def delete(self, client_id: str) -> None:
        try:
            self._client.delete_user_pool_client(UserPoolId=self._pool, ClientId=client_id)
        except self._client.exceptions.ResourceNotFoundException:
            return  # already gone: revoking is idempotent
