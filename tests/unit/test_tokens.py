"""Bearer tokens: signature, issuer, audience, expiry and claims become the same Principal as a key."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest

from jobsched.api.auth import CallerKind, Principal, principal_from_context
from jobsched.api.tokens import TokenSettings, TokenVerifier, bearer_token
from jobsched.config import Role, Tier
from jobsched.errors import Unauthorized
from jobsched.keys.clients import ClientRecord
from jobsched.keys.models import ApiKeyRecord, KeyStatus, TenantUsageKey
from jobsched_local.token_issuer import LOCAL_AUDIENCE, LocalIssuer

ISSUER = "http://127.0.0.1:8080"


class Keys:
    """The issuer's public key, as the JWKS would give it."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self._key = jwt.PyJWK(issuer.public_jwk).key

    def key_for(self, token: str) -> Any:
        return self._key


class UsageKeys:
    def __init__(self, tiers: dict[str, Tier]) -> None:
        self._tiers = tiers

    def get_usage_key(self, tenant: str) -> TenantUsageKey | None:
        tier = self._tiers.get(tenant)
        return (
            TenantUsageKey(tenant=tenant, key_id="key_usage", tier=tier, value="jsk_usage") if tier else None
        )

    # The rest of KeyStore is not read by the verifier.
    def put(self, record: ApiKeyRecord, key_hash: str) -> None: ...
    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...
    def get(self, key_id: str) -> ApiKeyRecord | None: ...
    def list(self, tenant: str | None = None) -> list[ApiKeyRecord]: ...
    def mark_revoked(self, key_id: str, at: datetime) -> ApiKeyRecord: ...
    def put_usage_key(self, usage: TenantUsageKey) -> None: ...


class Clients:
    def __init__(self, *records: ClientRecord) -> None:
        self._records = {r.client_id: r for r in records}

    def get(self, client_id: str) -> ClientRecord | None:
        return self._records.get(client_id)

    def put(self, record: ClientRecord, secret_hash: str) -> None: ...
    def secret_hash(self, client_id: str) -> str | None: ...
    def list(self, tenant: str | None = None) -> list[ClientRecord]: ...
    def mark_revoked(self, client_id: str, at: datetime) -> ClientRecord: ...


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return LocalIssuer(tmp_path, ISSUER)


@pytest.fixture
def verifier(issuer: LocalIssuer) -> TokenVerifier:
    return TokenVerifier(
        TokenSettings(issuer=ISSUER, audience=(LOCAL_AUDIENCE,), jwks_url=issuer.jwks_url), Keys(issuer)
    )


def client_record(status: KeyStatus = KeyStatus.ACTIVE) -> ClientRecord:
    return ClientRecord(
        client_id="cli_1",
        tenant="acme",
        role=Role.OPERATOR,
        scopes=("jobs.read", "executions.read"),
        tags={"team": "billing"},
        status=status,
        created_at=datetime.now(UTC),
    )


def caller(verifier: TokenVerifier, token: str, *clients: ClientRecord) -> tuple[Principal, str]:
    return verifier.principal(verifier.verify(token), UsageKeys({"acme": Tier.PREMIUM}), Clients(*clients))


def test_a_users_token_maps_claims_to_tenant_role_tags_and_the_tenants_tier(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.user_token("acme", "viewer", subject="u-1", tags={"team": "billing"})
    principal, usage_key = caller(verifier, token)
    assert principal == Principal(
        tenant="acme",
        role=Role.VIEWER,
        tier=Tier.PREMIUM,
        key_id="user:u-1",
        kind=CallerKind.USER,
        scopes=None,
        tags=(("team", "billing"),),
    )
    assert usage_key == "jsk_usage"


def test_the_strongest_of_several_role_groups_counts(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(
        {
            "sub": "u",
            "aud": LOCAL_AUDIENCE,
            "custom:tenant": "acme",
            "cognito:groups": ["viewer", "admin", "x"],
        },
        60,
    )
    assert caller(verifier, token)[0].role is Role.ADMIN


def test_a_client_token_takes_tenant_role_and_tags_from_the_client_record(
    issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.client_token("cli_1", ["jobs.read", "jobs.write"])
    principal, _ = caller(verifier, token, client_record())
    assert (principal.tenant, principal.role, principal.kind) == ("acme", Role.OPERATOR, CallerKind.CLIENT)
    assert principal.key_id == "client:cli_1"
    # A scope the token names but the client was never granted does not count.
    assert principal.scopes == frozenset({"jobs.read"})
    assert principal.tags == (("team", "billing"),)


@pytest.mark.parametrize("status", [None, KeyStatus.REVOKED])
def test_a_client_token_of_an_unknown_or_revoked_client_is_refused(
    issuer: LocalIssuer, verifier: TokenVerifier, status: KeyStatus | None
) -> None:
    token = issuer.client_token("cli_1", ["jobs.read"])
    records = [client_record(status)] if status else []
    with pytest.raises(Unauthorized, match="unknown or revoked client"):
        caller(verifier, token, *records)


def test_expired_tokens_are_refused_beyond_the_leeway(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    within = issuer.user_token("acme", "viewer", ttl_seconds=60, now=time.time() - 80)
    assert caller(verifier, within)[0].tenant == "acme"
    expired = issuer.user_token("acme", "viewer", ttl_seconds=60, now=time.time() - 120)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(expired)


def test_a_token_not_yet_valid_is_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    future = issuer.user_token("acme", "viewer", now=time.time() + 600)
    with pytest.raises(Unauthorized, match="not yet valid"):
        verifier.verify(future)


def test_tampered_tokens_are_refused(issuer: LocalIssuer, verifier: TokenVerifier) -> None:
    header, _, signature = issuer.user_token("acme", "viewer").split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"u","custom:tenant":"other","cognito:groups":["admin"]}')
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{forged.decode()}.{signature}")


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path, verifier: TokenVerifier) -> None:
    stranger = LocalIssuer(tmp_path / "other", ISSUER)
    with pytest.raises(Unauthorized, match="Signature verification failed"):
        verifier.verify(stranger.user_token("acme", "admin"))


def test_unsigned_and_symmetric_tokens_are_refused(verifier: TokenVerifier) -> None:
    claims = {"sub": "u", "iss": ISSUER, "exp": int(time.time()) + 60, "aud": LOCAL_AUDIENCE}
    for token in (
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode(claims, "k" * 32, algorithm="HS256"),
    ):
        with pytest.raises(Unauthorized, match="RS256"):
            verifier.verify(token)


def test_another_issuer_or_audience_is_refused(
    tmp_path: Path, issuer: LocalIssuer, verifier: TokenVerifier
) -> None:
    with pytest.raises(Unauthorized, match="issuer"):
        verifier.verify(LocalIssuer(tmp_path, "http://evil.example").user_token("acme", "admin"))
    other_audience = issuer.sign(
        {"sub": "u", "aud": "other", "custom:tenant": "acme", "cognito:groups": ["admin"]}, 60
    )
    with pytest.raises(Unauthorized, match="aud"):
        caller(verifier, other_audience)


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"cognito:groups": ["admin"]}, "custom:tenant"),
        ({"custom:tenant": "acme", "cognito:groups": ["guests"]}, "no role"),
        ({"custom:tenant": "acme", "cognito:groups": "viewer", "custom:job_tags": "nocolon"}, "tags"),
        ({"custom:tenant": "nobody", "cognito:groups": ["admin"]}, "not enabled for tokens"),
    ],
)
def test_tokens_without_usable_claims_are_refused(
    issuer: LocalIssuer, verifier: TokenVerifier, claims: dict[str, Any], reason: str
) -> None:
    token = issuer.sign({"sub": "u", "aud": LOCAL_AUDIENCE, **claims}, 60)
    with pytest.raises(Unauthorized, match=reason):
        caller(verifier, token)


def test_a_principal_travels_through_the_authorizer_context_unchanged() -> None:
    principal = Principal(
        tenant="acme",
        role=Role.OPERATOR,
        tier=Tier.BASIC,
        key_id="client:cli_1",
        kind=CallerKind.CLIENT,
        scopes=frozenset({"jobs.read"}),
        tags=(("team", "billing"),),
    )
    assert principal_from_context(principal.as_context()) == principal


@pytest.mark.parametrize("scopes", ["{}", "[1]", "not json"])
def test_a_garbled_context_means_no_access(scopes: str) -> None:
    context = {"tenant": "acme", "role": "admin", "tier": "basic", "key_id": "k", "scopes": scopes}
    with pytest.raises(Unauthorized):
        principal_from_context(context)


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None)],
)
def test_bearer_token_reads_only_the_bearer_scheme(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
