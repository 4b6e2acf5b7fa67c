"""Who may call which route: the roles it admits and the OAuth scope a scoped token must hold.

One table, read by the API functions' edge (jobsched.api.http_api) before any handler runs, so a route
added without a line here is refused to every caller rather than open to all. Keys, users' tokens and
clients' tokens go through the same check: a key or an ID token has no scopes to narrow it (its role
decides); a client's token must hold the route's scope as well (and a route with no scope, such as key
management, is never open to a scoped token).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobsched.api.auth import Principal
from jobsched.config import Role
from jobsched.errors import Forbidden


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    scope: str | None  # None: no scoped token may call it


READERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.VIEWER})
OPERATORS = frozenset({Role.ADMIN, Role.OPERATOR})
ADMINS = frozenset({Role.ADMIN})

JOBS = "/api/v1/jobs"
JOB = "/api/v1/jobs/{job_id}"
EXECUTIONS = "/api/v1/executions/{job_id}"

# (method, API Gateway resource) -> permission.
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", JOBS): Permission(READERS, "jobs.read"),
    ("POST", JOBS): Permission(OPERATORS, "jobs.write"),
    ("GET", JOB): Permission(READERS, "jobs.read"),
    ("PUT", JOB): Permission(OPERATORS, "jobs.write"),
    ("DELETE", JOB): Permission(OPERATORS, "jobs.write"),
    ("POST", JOB + "/webhook-secret"): Permission(ADMINS, None),
    ("POST", JOB + "/run"): Permission(OPERATORS, "executions.retry"),
    ("GET", EXECUTIONS): Permission(READERS, "executions.read"),
    ("GET", EXECUTIONS + "/{execution_id}"): Permission(READERS, "executions.read"),
    ("POST", EXECUTIONS + "/retry"): Permission(OPERATORS, "executions.retry"),
    ("GET", "/api/v1/schedule/status"): Permission(READERS, "jobs.read"),
    ("POST", "/api/v1/schedule/{job_id}"): Permission(OPERATORS, "jobs.write"),
    ("DELETE", "/api/v1/schedule/{job_id}"): Permission(OPERATORS, "jobs.write"),
    # Identity: a tenant admin's own keys and clients and their audit; never open to a scoped token.
    ("POST", "/api/v1/keys"): Permission(ADMINS, None),
    ("GET", "/api/v1/keys"): Permission(ADMINS, None),
    ("DELETE", "/api/v1/keys/{key_id}"): Permission(ADMINS, None),
    ("POST", "/api/v1/clients"): Permission(ADMINS, None),
    ("GET", "/api/v1/clients"): Permission(ADMINS, None),
    ("DELETE", "/api/v1/clients/{client_id}"): Permission(ADMINS, None),
    ("GET", "/api/v1/audit"): Permission(ADMINS, None),
}
# Any other path under /api/v1 reaches a function only to be told 404 (no route): every caller may.
CATCH_ALL_RESOURCE = "/api/v1/{proxy+}"


def authorize_route(principal: Principal, method: str, resource: str) -> None:
    """Forbidden unless the caller's role, and its token's scopes if it has any, allow this route."""
    if resource == CATCH_ALL_RESOURCE:
        return
    permission = ROUTE_PERMISSIONS.get((method.upper(), resource))
    if permission is None:
        raise Forbidden(f"{method.upper()} {resource} is open to no caller")
    if principal.role not in permission.roles:
        needed = ", ".join(role.value for role in sorted(permission.roles))
        raise Forbidden(f"role '{principal.role.value}' may not do this; it needs one of: {needed}")
    if principal.scopes is not None and (
        permission.scope is None or permission.scope not in principal.scopes
    ):
        needed_scope = permission.scope or "none: only keys and users may"
        raise Forbidden(
            f"this token's scopes do not allow {method.upper()} {resource} (scope: {needed_scope})"
        )
