"""The local issuer: a signing key that survives restarts, JWKS, and the client-credentials endpoint."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from werkzeug.test import Client

from jobsched.config import Role
from jobsched.errors import InvalidInput
from jobsched.keys.clients import ClientRecord
from jobsched.keys.models import KeyStatus, hash_key
from jobsched_local.token_issuer import ISSUER_DIR, KEY_FILE, LocalIssuer, parse_ttl, with_local_issuer

URL = "http://127.0.0.1:8080"


class Clients:
    def __init__(self, secret: str, status: KeyStatus = KeyStatus.ACTIVE) -> None:
        self.record = ClientRecord(
            client_id="cli_1",
            tenant="acme",
            role=Role.OPERATOR,
            scopes=("jobs.read", "executions.read"),
            status=status,
            created_at=datetime.now(UTC),
        )
        self._hash = hash_key(secret)

    def get(self, client_id: str) -> ClientRecord | None:
        return self.record if client_id == "cli_1" else None

    def secret_hash(self, client_id: str) -> str | None:
        return self._hash if client_id == "cli_1" else None

    def put(self, record: ClientRecord, secret_hash: str) -> None: ...
    def list(self, tenant: str | None = None) -> list[ClientRecord]: ...
    def mark_revoked(self, client_id: str, at: datetime) -> ClientRecord: ...


def api(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
    return [b"api"]


@pytest.fixture
def issuer(tmp_path: Path) -> LocalIssuer:
    return LocalIssuer(tmp_path, URL)


def http(issuer: LocalIssuer, status: KeyStatus = KeyStatus.ACTIVE) -> Client:
    return Client(with_local_issuer(api, issuer, Clients("s3cret", status)))


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_the_signing_key_is_made_once_private_and_kept(tmp_path: Path, issuer: LocalIssuer) -> None:
    key_file = tmp_path / ISSUER_DIR / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = LocalIssuer(tmp_path, URL)
    assert again.kid == issuer.kid
    token = issuer.user_token("acme", "viewer")
    claims = jwt.decode(
        token, jwt.PyJWK(again.public_jwk).key, algorithms=["RS256"], audience="jobsched-local"
    )
    assert claims["custom:tenant"] == "acme" and claims["cognito:groups"] == ["viewer"]


def test_jwks_and_discovery_are_served_beside_the_api(issuer: LocalIssuer) -> None:
    client = http(issuer)
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert [key["kid"] for key in keys] == [issuer.kid] and "d" not in keys[0]
    assert client.get("/.well-known/openid-configuration").json["issuer"] == URL
    assert client.get("/api/v1/jobs").status_code == 418  # everything else reaches the API


@pytest.mark.parametrize("how", ["basic", "body"])
def test_client_credentials_grant_with_either_client_authentication(issuer: LocalIssuer, how: str) -> None:
    form = {"grant_type": "client_credentials"}
    headers = basic("cli_1", "s3cret") if how == "basic" else {}
    if how == "body":
        form |= {"client_id": "cli_1", "client_secret": "s3cret"}
    reply = http(issuer).post("/oauth2/token", data=form, headers=headers)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(reply.json["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == "cli_1" and claims["token_use"] == "access" and "aud" not in claims
    assert claims["scope"] == "jobsched/jobs.read jobsched/executions.read"
    narrowed = http(issuer).post(
        "/oauth2/token", data={**form, "scope": "jobsched/jobs.read"}, headers=headers
    )
    assert (
        jwt.decode(narrowed.json["access_token"], options={"verify_signature": False})["scope"]
        == "jobsched/jobs.read"
    )


@pytest.mark.parametrize(
    ("form", "headers", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, basic("cli_1", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, basic("cli_2", "s3cret"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, {}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, {"Authorization": "Basic !!"}, 401, "invalid_client"),
        ({"grant_type": "password"}, basic("cli_1", "s3cret"), 400, "unsupported_grant_type"),
        (
            {"grant_type": "client_credentials", "scope": "jobsched/jobs.write"},
            basic("cli_1", "s3cret"),
            400,
            "invalid_scope",
        ),
        (
            {"grant_type": "client_credentials", "scope": "admin"},
            basic("cli_1", "s3cret"),
            400,
            "invalid_scope",
        ),
    ],
)
def test_token_endpoint_refusals(
    issuer: LocalIssuer, form: dict[str, str], headers: dict[str, str], status: int, error: str
) -> None:
    reply = http(issuer).post("/oauth2/token", data=form, headers=headers)
    assert reply.status_code == status and reply.json["error"] == error


def test_a_revoked_client_gets_no_token(issuer: LocalIssuer) -> None:
    reply = http(issuer, KeyStatus.REVOKED).post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, headers=basic("cli_1", "s3cret")
    )
    assert reply.status_code == 401


def test_the_token_endpoint_wants_a_form_post(issuer: LocalIssuer) -> None:
    assert http(issuer).get("/oauth2/token").status_code == 405
    json_body = http(issuer).post("/oauth2/token", json={"grant_type": "client_credentials"})
    assert json_body.status_code == 400 and json_body.json["error"] == "invalid_request"
    huge = http(issuer).post("/oauth2/token", data={"grant_type": "x" * 9000})
    assert huge.status_code == 400


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("1d", 86400), ("30", 30)]
)
def test_ttl_reads_durations(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "2d", "h", "1w", "-1h"])
def test_ttl_refuses_other_durations(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_ttl(text)


def test_a_state_dir_without_a_runtime_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="start `jobsched local`"):
        LocalIssuer.of_state_dir(tmp_path)
    with pytest.raises(InvalidInput, match="start `jobsched local`"):
        LocalIssuer.aws_endpoint_of(tmp_path)
