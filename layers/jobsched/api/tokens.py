"""Bearer tokens: a JWT checked against its issuer's keys, then mapped to the same Principal as a key.

Two kinds arrive in `Authorization: Bearer <JWT>`:
- a user's token (an OIDC ID token: Cognito's, or any issuer's): `aud` must be the configured audience;
  tenant, role and job tags come from claims whose names are configurable (Cognito groups as roles);
- a third party's OAuth 2.0 client-credentials token (an access token with `client_id`, no `aud`): the
  client's record in the table names tenant, role and tags, and the token's scopes narrow what it may do.
Either way the signature (RS256 only), `iss`, `exp` and `nbf` (with a small leeway) are checked first,
and the tenant must have a usage key, so its tier's limits hold for token callers too.

PyJWT is imported here and nowhere else; the authorizer imports this module only for bearer tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import jwt

from jobsched.api.auth import CallerKind, Principal
from jobsched.config import Role
from jobsched.errors import InvalidInput, Unauthorized
from jobsched.keys.clients import ClientStore, scope_names
from jobsched.keys.models import KeyStatus, KeyStore, parse_tag_scope

ALGORITHMS = ["RS256"]
# From the strongest down: a user in several role groups acts with the strongest of them.
ROLE_ORDER = (Role.ADMIN, Role.OPERATOR, Role.VIEWER)


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: tuple[str, ...]
    jwks_url: str
    tenant_claim: str = "custom:tenant"
    role_claim: str = "cognito:groups"
    tags_claim: str = "custom:job_tags"
    leeway_seconds: int = 30


@dataclass(frozen=True)
class _Caller:
    """A Principal but its tier, which the tenant's usage key names."""

    tenant: str
    role: Role
    key_id: str
    kind: CallerKind
    scopes: frozenset[str] | None
    tags: tuple[tuple[str, str], ...]


class SigningKeys(Protocol):
    def key_for(self, token: str) -> Any:
        """The issuer's public key that signed this token (by its `kid`)."""
        ...


class JwksKeys:
    """The issuer's JWKS, fetched once and cached in the container (fetched again for an unknown kid)."""

    def __init__(self, url: str, lifespan_seconds: int = 3600) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=lifespan_seconds, timeout=5)

    def key_for(self, token: str) -> Any:
        return self._client.get_signing_key_from_jwt(token).key


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class TokenVerifier:
    def __init__(self, settings: TokenSettings, keys: SigningKeys) -> None:
        self._settings = settings
        self._keys = keys

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a genuine, current token of the configured issuer; Unauthorized otherwise."""
        try:
            if jwt.get_unverified_header(token).get("alg") not in ALGORITHMS:
                raise Unauthorized("token is not signed with RS256")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys.key_for(token),
                algorithms=ALGORITHMS,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token refused: {exc}") from None
        return claims

    def principal(
        self, claims: Mapping[str, Any], keys: KeyStore, clients: ClientStore
    ) -> tuple[Principal, str]:
        """The caller and the usage key value its tenant's tier is counted against."""
        if claims.get("token_use") == "access" and "client_id" in claims and "aud" not in claims:
            principal = _client_principal(claims, clients)
        else:
            principal = self._user_principal(claims)
        usage = keys.get_usage_key(principal.tenant)
        if usage is None:
            raise Unauthorized(f"tenant {principal.tenant} is not enabled for tokens")
        return Principal(tier=usage.tier, **asdict(principal)), usage.value

    def _user_principal(self, claims: Mapping[str, Any]) -> _Caller:
        audiences = claims.get("aud")
        presented = {audiences} if isinstance(audiences, str) else set(audiences or [])
        if not presented & set(self._settings.audience):
            raise Unauthorized("token is not meant for this API (aud)")
        tenant = claims.get(self._settings.tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise Unauthorized(f"token has no {self._settings.tenant_claim} claim")
        return _Caller(
            tenant=tenant,
            role=_strongest_role(claims.get(self._settings.role_claim)),
            key_id=f"user:{claims['sub']}",
            kind=CallerKind.USER,
            scopes=scope_names(claims["scope"]) if "scope" in claims else None,
            tags=_tags(claims.get(self._settings.tags_claim)),
        )


def _client_principal(claims: Mapping[str, Any], clients: ClientStore) -> _Caller:
    client_id = str(claims["client_id"])
    record = clients.get(client_id)
    if record is None or record.status is not KeyStatus.ACTIVE:
        raise Unauthorized("unknown or revoked client")
    return _Caller(
        tenant=record.tenant,
        role=record.role,
        key_id=f"client:{client_id}",
        kind=CallerKind.CLIENT,
        scopes=scope_names(claims.get("scope")) & frozenset(record.scopes),
        tags=tuple(sorted(record.tags.items())),
    )


def _strongest_role(claim: Any) -> Role:
    names: Iterable[Any] = claim.replace(",", " ").split() if isinstance(claim, str) else claim or []
    held = {str(name) for name in names}
    for role in ROLE_ORDER:
        if role.value in held:
            return role
    raise Unauthorized("token names no role (admin, operator or viewer)")


def _tags(claim: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(claim, list):
        claim = ",".join(str(part) for part in claim)
    try:
        return tuple(sorted(parse_tag_scope(claim if isinstance(claim, str) else None).items()))
    except InvalidInput:
        raise Unauthorized("token's job tags are not key:value pairs") from None
