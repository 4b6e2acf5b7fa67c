"""The local OIDC issuer: what a Cognito user pool (with its domain) is on AWS, offline.

- its signing key (RSA 2048) lives under the state dir, made once, so tokens survive restarts;
- GET /.well-known/jwks.json and /.well-known/openid-configuration on the API's own address;
- POST /oauth2/token: the client-credentials grant, form-encoded, the client authenticated by HTTP Basic
  or by client_id/client_secret in the body (both as Cognito accepts them);
- `jobsched tokens issue` signs a user's token (an ID token as Cognito's: aud, custom:tenant,
  cognito:groups, custom:job_tags) with the same key.
The runtime's functions read the issuer's URL, audience and JWKS URL from their environment, as on AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from jobsched.errors import InvalidInput
from jobsched.keys.clients import (
    CLIENT_TOKEN_VALIDITY,
    RESOURCE_SERVER,
    ClientStore,
    check_client_secret,
    parse_scopes,
)

LOCAL_AUDIENCE = "jobsched-local"
ISSUER_DIR = "issuer"
KEY_FILE = "signing-key.pem"
URL_FILE = "issuer-url"
AWS_ENDPOINT_FILE = "aws-endpoint-url"
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 (a path)
CLIENT_TOKEN_SECONDS = int(CLIENT_TOKEN_VALIDITY.total_seconds())  # as the Cognito clients' tokens
MAX_TTL_SECONDS = 24 * 3600
MAX_FORM_BYTES = 8 * 1024


class LocalIssuer:
    def __init__(self, state_dir: Path, issuer_url: str) -> None:
        self.issuer_url = issuer_url.rstrip("/")
        self._private_key = _load_or_create_key(state_dir / ISSUER_DIR / KEY_FILE)
        public_jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self._private_key.public_key()))
        self.kid = _thumbprint(public_jwk)
        self.public_jwk = {**public_jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    @classmethod
    def of_state_dir(cls, state_dir: Path) -> LocalIssuer:
        """The issuer of the runtime that uses this state dir (it records its URL there when it starts)."""
        url_file = state_dir / ISSUER_DIR / URL_FILE
        if not url_file.exists():
            raise InvalidInput.field(
                "state_dir", f"{state_dir} has no local issuer yet: start `jobsched local` with it first"
            )
        return cls(state_dir, url_file.read_text().strip())

    def record_url(self, state_dir: Path, aws_endpoint_url: str) -> None:
        """Where this issuer and the runtime's AWS endpoint are, for `jobsched tokens|clients` to find."""
        (state_dir / ISSUER_DIR / URL_FILE).write_text(self.issuer_url + "\n")
        (state_dir / ISSUER_DIR / AWS_ENDPOINT_FILE).write_text(aws_endpoint_url + "\n")

    @staticmethod
    def aws_endpoint_of(state_dir: Path) -> str:
        path = state_dir / ISSUER_DIR / AWS_ENDPOINT_FILE
        if not path.exists():
            raise InvalidInput.field(
                "state_dir", f"{state_dir} has no local runtime: start `jobsched local` with it first"
            )
        return path.read_text().strip()

    @property
    def jwks_url(self) -> str:
        return self.issuer_url + JWKS_PATH

    def env(self) -> dict[str, str]:
        """The authorizer's token settings, as the stacks set them from cdk.json on AWS."""
        return {
            "TOKEN_ISSUER": self.issuer_url,
            "TOKEN_AUDIENCE": LOCAL_AUDIENCE,
            "TOKEN_JWKS_URL": self.jwks_url,
            "OAUTH_CLIENTS": "local",  # clients made over the API are this issuer's
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer_url,
            "jwks_uri": self.jwks_url,
            "token_endpoint": self.issuer_url + TOKEN_PATH,
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def sign(self, claims: dict[str, Any], ttl_seconds: int, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        body = {
            "iss": self.issuer_url,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
            "jti": secrets.token_hex(12),
            **claims,
        }
        return jwt.encode(body, self._private_key, algorithm="RS256", headers={"kid": self.kid})

    def user_token(
        self,
        tenant: str,
        role: str,
        *,
        subject: str | None = None,
        scopes: Iterable[str] | None = None,
        tags: dict[str, str] | None = None,
        ttl_seconds: int = 3600,
        now: float | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "sub": subject or "user-" + secrets.token_hex(6),
            "aud": LOCAL_AUDIENCE,
            "token_use": "id",
            "custom:tenant": tenant,
            "cognito:groups": [role],
        }
        if tags:
            claims["custom:job_tags"] = ",".join(f"{key}:{value}" for key, value in tags.items())
        if scopes is not None:
            claims["scope"] = " ".join(f"{RESOURCE_SERVER}/{scope}" for scope in scopes)
        return self.sign(claims, ttl_seconds, now)

    def client_token(self, client_id: str, scopes: Iterable[str], now: float | None = None) -> str:
        claims = {
            "sub": client_id,
            "client_id": client_id,
            "token_use": "access",
            "scope": " ".join(f"{RESOURCE_SERVER}/{scope}" for scope in scopes),
        }
        return self.sign(claims, CLIENT_TOKEN_SECONDS, now)


def parse_ttl(text: str) -> int:
    """`90s`, `15m`, `1h`, `1d` or plain seconds; at most a day."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    factor = units.get(value[-1:], 1) if value else 1
    digits = value[:-1] if value[-1:] in units else value
    if not digits.isdigit() or not 1 <= int(digits) * factor <= MAX_TTL_SECONDS:
        raise InvalidInput.field("ttl", f"'{text}' is not a duration of 1 s to 1 d (like 90s, 15m, 1h)")
    return int(digits) * factor


def _load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    temporary = path.with_suffix(".tmp")
    temporary.touch(mode=0o600)
    temporary.write_bytes(pem)
    temporary.replace(path)  # whole or absent, never half-written
    return key


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexical order, base64url without padding."""
    import hashlib

    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_local_issuer(app: WsgiApp, issuer: LocalIssuer, clients: ClientStore) -> WsgiApp:
    """The issuer's three endpoints in front of the API (they are not API routes: no key, no authorizer)."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET").upper()
        if path in (JWKS_PATH, DISCOVERY_PATH) and method == "GET":
            body = issuer.jwks() if path == JWKS_PATH else issuer.discovery()
            return _json(start_response, 200, body, [("Cache-Control", "max-age=300")])
        if path == TOKEN_PATH:
            if method != "POST":
                return _oauth_error(start_response, OAuthError(405, "invalid_request", "use POST"))
            return token_endpoint(environ, start_response, issuer, clients)
        return app(environ, start_response)

    return serve


def token_endpoint(
    environ: dict[str, Any], start_response: Callable[..., Any], issuer: LocalIssuer, clients: ClientStore
) -> Iterable[bytes]:
    """RFC 6749 section 4.4 as Cognito answers it: errors are {"error": ...} with 400 or 401."""
    form = _read_form(environ)
    if isinstance(form, OAuthError):
        return _oauth_error(start_response, form)
    answer = _grant(form, environ.get("HTTP_AUTHORIZATION"), issuer, clients)
    if isinstance(answer, OAuthError):
        return _oauth_error(start_response, answer)
    return _json(start_response, 200, answer, [("Cache-Control", "no-store")])


class OAuthError(NamedTuple):
    status: int
    error: str
    description: str


def _read_form(environ: dict[str, Any]) -> dict[str, str] | OAuthError:
    content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return OAuthError(400, "invalid_request", "Content-Type must be form-encoded")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_FORM_BYTES:
        return OAuthError(400, "invalid_request", "body is missing or too large")
    try:
        text = environ["wsgi.input"].read(length).decode("utf-8")
    except UnicodeDecodeError:
        return OAuthError(400, "invalid_request", "body is not UTF-8")
    return {key: values[0] for key, values in parse_qs(text).items()}


def _grant(
    form: dict[str, str], authorization: str | None, issuer: LocalIssuer, clients: ClientStore
) -> dict[str, Any] | OAuthError:
    if form.get("grant_type") != "client_credentials":
        return OAuthError(400, "unsupported_grant_type", "only client_credentials")
    credentials = _basic_credentials(authorization)
    if credentials is None and "client_id" in form:
        credentials = (form["client_id"], form.get("client_secret", ""))
    if credentials is None:
        return OAuthError(401, "invalid_client", "client authentication is missing")
    record = check_client_secret(clients, *credentials)
    if record is None:
        return OAuthError(401, "invalid_client", "unknown client or wrong secret")
    scopes: tuple[str, ...] = record.scopes
    if form.get("scope"):
        try:
            scopes = parse_scopes(form["scope"])
        except InvalidInput:
            return OAuthError(400, "invalid_scope", "unknown scope")
        if not set(scopes) <= set(record.scopes):
            return OAuthError(400, "invalid_scope", "scope not allowed for this client")
    token = issuer.client_token(record.client_id, scopes)
    return {"access_token": token, "token_type": "Bearer", "expires_in": CLIENT_TOKEN_SECONDS}


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, separator, secret = decoded.partition(":")
    return (client_id, secret) if separator else None


def _oauth_error(start_response: Callable[..., Any], error: OAuthError) -> Iterable[bytes]:
    body = {"error": error.error, "error_description": error.description}
    return _json(start_response, error.status, body, [])


def _json(
    start_response: Callable[..., Any], status: int, body: dict[str, Any], extra: list[tuple[str, str]]
) -> Iterable[bytes]:
    data = json.dumps(body).encode("utf-8")
    reasons = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 405: "Method Not Allowed"}
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra]
    start_response(f"{status} {reasons[status]}", headers)
    return [data]
