"""Who may call which route: the roles it admits and the OAuth scope a scoped token must hold.

Built from the route table (jobsched.api.routes) and read by the API functions' edge (jobsched.api.http_api)
before any handler runs, so a route missing from the table is refused to every caller rather than open to
all. Keys, users' tokens and
clients' tokens go through the same check: a key or an ID token has no scopes to narrow it (its role
decides); a client's token must hold the route's scope as well (and a route with no scope, such as key
management, is never open to a scoped token).
"""

from __future__ import annotations

from dataclasses import dataclass

from jobsched.api.auth import Principal
from jobsched.api.routes import ANY, ROUTES
from jobsched.config import Role
from jobsched.errors import Forbidden


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    scope: str | None  # None: no scoped token may call it


# (method, API Gateway resource) -> permission, from the one route table.
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    (route.method, route.resource): Permission(route.roles, route.scope)
    for route in ROUTES
    if route.key_required and route.method != ANY
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
