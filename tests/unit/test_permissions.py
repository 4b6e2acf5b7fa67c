"""Roles that differ and token scopes, from one route table; tag scopes on jobs."""

from __future__ import annotations

import pytest

from jobsched.api.auth import CallerKind, Principal
from jobsched.api.permissions import ROUTE_PERMISSIONS, authorize_route
from jobsched.config import Role, Tier
from jobsched.errors import Forbidden, NotFound
from jobsched_local.routes import ROUTES


def caller(role: Role, scopes: set[str] | None = None, tags: tuple[tuple[str, str], ...] = ()) -> Principal:
    kind = CallerKind.CLIENT if scopes is not None else CallerKind.KEY
    return Principal(
        "acme", role, Tier.BASIC, "k", kind, frozenset(scopes) if scopes is not None else None, tags
    )


def test_every_route_behind_the_authorizer_has_a_permission() -> None:
    guarded = {(r.method, r.resource) for r in ROUTES if r.key_required and "{proxy+}" not in r.resource}
    assert guarded == set(ROUTE_PERMISSIONS)


@pytest.mark.parametrize(
    ("role", "method", "resource", "allowed"),
    [
        (Role.VIEWER, "GET", "/api/v1/jobs", True),
        (Role.VIEWER, "POST", "/api/v1/jobs", False),
        (Role.VIEWER, "POST", "/api/v1/executions/{job_id}/retry", False),
        (Role.OPERATOR, "POST", "/api/v1/jobs", True),
        (Role.OPERATOR, "DELETE", "/api/v1/schedule/{job_id}", True),
        (Role.OPERATOR, "POST", "/api/v1/jobs/{job_id}/webhook-secret", False),
        (Role.ADMIN, "POST", "/api/v1/jobs/{job_id}/webhook-secret", True),
        (Role.VIEWER, "GET", "/api/v1/{proxy+}", True),
    ],
)
def test_roles_differ(role: Role, method: str, resource: str, allowed: bool) -> None:
    if allowed:
        authorize_route(caller(role), method, resource)
    else:
        with pytest.raises(Forbidden, match=f"role '{role.value}'"):
            authorize_route(caller(role), method, resource)


def test_a_scoped_token_needs_the_routes_scope_as_well_as_the_role() -> None:
    reader = caller(Role.OPERATOR, {"jobs.read"})
    authorize_route(reader, "GET", "/api/v1/jobs/{job_id}")
    with pytest.raises(Forbidden, match=r"scope: jobs\.write"):
        authorize_route(reader, "POST", "/api/v1/jobs")
    with pytest.raises(Forbidden, match=r"scope: executions\.read"):
        authorize_route(reader, "GET", "/api/v1/executions/{job_id}")
    # Scopes never lift a role: a viewer client with jobs.write still cannot write.
    with pytest.raises(Forbidden, match="role 'viewer'"):
        authorize_route(caller(Role.VIEWER, {"jobs.write"}), "POST", "/api/v1/jobs")


def test_routes_without_a_scope_are_closed_to_scoped_tokens() -> None:
    with pytest.raises(Forbidden, match="only keys and users"):
        authorize_route(caller(Role.ADMIN, set(SCOPES_ALL)), "POST", "/api/v1/jobs/{job_id}/webhook-secret")


def test_an_unknown_route_is_open_to_no_one() -> None:
    with pytest.raises(Forbidden, match="open to no caller"):
        authorize_route(caller(Role.ADMIN), "PATCH", "/api/v1/jobs/{job_id}")


def test_tag_scope_hides_other_jobs_and_requires_its_tags_on_writes() -> None:
    limited = caller(Role.OPERATOR, tags=(("team", "billing"),))
    assert limited.sees({"team": "billing", "env": "prod"})
    assert not limited.sees({"team": "search"})
    with pytest.raises(NotFound, match="job job_1 not found"):
        limited.require_visible("job_1", {})
    with pytest.raises(Forbidden) as refused:
        limited.require_tags({"env": "prod"})
    assert refused.value.details[0]["field"] == "tags"
    assert caller(Role.OPERATOR).sees({})


SCOPES_ALL = ("jobs.read", "jobs.write", "executions.read", "executions.retry")
