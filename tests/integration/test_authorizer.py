"""The REQUEST authorizer handler against moto: allow with the principal's context, else "Unauthorized"."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import jwt
import pytest

from jobsched.api.auth import Principal, allow_policy
from jobsched.api.tokens import TokenSettings, TokenVerifier
from jobsched.config import Role, Tier
from jobsched.keys.adapters.client_store import DynamoClientStore
from jobsched.keys.adapters.key_service import make_key_service
from jobsched.keys.clients import ClientService, LocalClientRegistry
from jobsched.keys.models import KeyService
from jobsched_local.provision import ensure_api
from jobsched_local.token_issuer import LOCAL_AUDIENCE, LocalIssuer

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/api/v1/jobs/j-1"
REGIONS = ("us-east-1",)


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)


@pytest.fixture
def service(aws: None) -> KeyService:
    ensure_api(clients("apigateway", "us-east-1"))
    return make_key_service(clients, "us-east-1", REGIONS)


@pytest.fixture
def authorizer(aws: None) -> ModuleType:
    return importlib.import_module("functions.authorizer.handler")


def request_event(key: str | None, header: str = "x-api-key") -> dict[str, Any]:
    headers = {header: key} if key is not None else {}
    return {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": headers}


@pytest.mark.parametrize("header", ["x-api-key", "X-Api-Key", "X-API-KEY"])
def test_active_key_is_allowed_with_its_context(
    service: KeyService, authorizer: ModuleType, header: str
) -> None:
    record, value = service.create("acme", "standard", "operator")
    answer = authorizer.handler(request_event(value, header), None)
    assert answer["principalId"] == record.key_id
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "execute-api:Invoke"
    # The whole stage, so API Gateway's cached answer serves every route of the key.
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:api1/prod/*/*"]
    assert answer["context"] == {
        "tenant": "acme",
        "role": "operator",
        "tier": "standard",
        "key_id": record.key_id,
        "kind": "key",
        "scopes": "",
        "tags": "",
    }
    # The API's key source is the authorizer: the presented key is the one the usage plan counts, and
    # appears nowhere else in the answer.
    assert answer.pop("usageIdentifierKey") == value
    assert value not in repr(answer)


@pytest.mark.parametrize("key", [None, "", "jsk_unknown_key_value_0123456789"])
def test_missing_or_unknown_key_is_unauthorized(
    service: KeyService, authorizer: ModuleType, key: str | None
) -> None:
    service.create("acme", "basic", "viewer")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(key), None)


def test_revoked_key_is_unauthorized(service: KeyService, authorizer: ModuleType) -> None:
    record, value = service.create("acme", "basic", "viewer")
    service.revoke(record.key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(value), None)


def test_the_policy_covers_the_whole_stage_in_the_method_arns_partition() -> None:
    principal = Principal(tenant="acme", role=Role.VIEWER, tier=Tier.BASIC, key_id="key_9")
    answer = allow_policy(
        principal, "arn:aws-cn:execute-api:cn-north-1:123456789012:api9/prod/POST/api/v1/jobs"
    )
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": ["arn:aws-cn:execute-api:cn-north-1:123456789012:api9/prod/*/*"],
    }
    assert answer["principalId"] == "key_9" and answer["context"]["tenant"] == "acme"


def test_a_tenants_usage_key_is_no_credential(service: KeyService, authorizer: ModuleType) -> None:
    usage = service.ensure_usage_key("acme", "basic")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(usage.value), None)


@pytest.fixture
def issuer(tmp_path: Path, authorizer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> LocalIssuer:
    """The authorizer trusting a local issuer (its JWKS given directly: unit tests have no network)."""
    issuer = LocalIssuer(tmp_path, "http://127.0.0.1:1")
    settings = TokenSettings(issuer=issuer.issuer_url, audience=(LOCAL_AUDIENCE,), jwks_url=issuer.jwks_url)
    monkeypatch.setattr(authorizer, "_VERIFIER", [TokenVerifier(settings, StaticKeys(issuer))])
    return issuer


class StaticKeys:
    def __init__(self, issuer: LocalIssuer) -> None:
        self._key = jwt.PyJWK(issuer.public_jwk).key

    def key_for(self, token: str) -> Any:
        return self._key


def test_a_users_token_is_allowed_and_counted_against_its_tenants_usage_key(
    service: KeyService, authorizer: ModuleType, issuer: LocalIssuer
) -> None:
    usage = service.ensure_usage_key("acme", "premium")
    token = issuer.user_token("acme", "operator", subject="alice", tags={"team": "billing"})
    answer = authorizer.handler(request_event(f"Bearer {token}", "Authorization"), None)
    assert answer["principalId"] == "user:alice"
    assert answer["usageIdentifierKey"] == usage.value
    assert answer["context"] == {
        "tenant": "acme",
        "role": "operator",
        "tier": "premium",
        "key_id": "user:alice",
        "kind": "user",
        "scopes": "",
        "tags": '[["team", "billing"]]',
    }
    assert token not in repr(answer)


def test_a_token_of_a_tenant_without_token_access_or_expired_is_unauthorized(
    service: KeyService, authorizer: ModuleType, issuer: LocalIssuer
) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(
            request_event("Bearer " + issuer.user_token("acme", "admin"), "Authorization"), None
        )
    service.ensure_usage_key("acme", "basic")
    expired = issuer.user_token("acme", "admin", ttl_seconds=60, now=time.time() - 3600)
    for header in (f"Bearer {expired}", "Basic abc", "Bearer"):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer.handler(request_event(header, "Authorization"), None)


def test_a_client_token_stops_when_its_client_is_revoked(
    service: KeyService, authorizer: ModuleType, issuer: LocalIssuer
) -> None:
    service.ensure_usage_key("acme", "standard")
    clients = ClientService(DynamoClientStore(clients_client(), "jobsched-jobs"), LocalClientRegistry())
    record, _ = clients.create("acme", "operator", ("jobs.read",))
    event = request_event(
        "Bearer " + issuer.client_token(record.client_id, ["jobs.read", "jobs.write"]), "Authorization"
    )
    answer = authorizer.handler(event, None)
    assert answer["context"]["kind"] == "client" and answer["context"]["scopes"] == '["jobs.read"]'
    clients.revoke(record.client_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(event, None)


def clients_client() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


class JwksServer:
    """An issuer's JWKS endpoint on 127.0.0.1 that counts how often it is fetched."""

    def __init__(self) -> None:
        self.fetches = 0
        self.jwks: dict[str, Any] = {"keys": []}
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.fetches += 1
                body = json.dumps(served.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


def test_the_issuer_comes_from_the_primary_regions_parameter_and_its_jwks_is_fetched_once(
    service: KeyService,
    authorizer: ModuleType,
    jwks_server: JwksServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As deployed: no issuer in the environment, so the first token reads the SSM parameter the primary
    region's user pool wrote; the JWKS is then fetched once for every later token of this container."""
    issuer = LocalIssuer(tmp_path, jwks_server.url)
    jwks_server.jwks = {"keys": [issuer.public_jwk]}
    trusted = {"issuer": issuer.issuer_url, "audience": [LOCAL_AUDIENCE], "jwks_url": issuer.jwks_url}
    clients("ssm", "us-east-1").put_parameter(
        Name="/jobsched/test/token-settings", Value=json.dumps(trusted), Type="String"
    )
    settings = authorizer.SETTINGS.model_copy(
        update={
            "token_issuer": None,
            "token_settings_parameter": "/jobsched/test/token-settings",
            "token_settings_region": "us-east-1",
        }
    )
    monkeypatch.setattr(authorizer, "SETTINGS", settings)
    monkeypatch.setattr(authorizer, "_VERIFIER", [])
    service.ensure_usage_key("acme", "standard")

    for subject in ("alice", "bob", "carol"):
        token = issuer.user_token("acme", "viewer", subject=subject)
        answer = authorizer.handler(request_event(f"Bearer {token}", "Authorization"), None)
        assert answer["principalId"] == f"user:{subject}"
    assert jwks_server.fetches == 1

    # A token signed by a key the issuer does not publish is refused, and the cached set is kept.
    stranger = LocalIssuer(tmp_path / "stranger", issuer.issuer_url).user_token("acme", "admin")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.handler(request_event(f"Bearer {stranger}", "Authorization"), None)
    token = issuer.user_token("acme", "viewer", subject="dave")
    assert authorizer.handler(request_event(f"Bearer {token}", "Authorization"), None)["principalId"] == (
        "user:dave"
    )
    assert jwks_server.fetches == 1
