"""Route matching as API Gateway does it: most specific resource first, then the method on it."""

from __future__ import annotations

import pytest

from jobsched.api.routes import ADMIN_ROLES, ANY, ANYONE, READ_ROLES, WRITE_ROLES, route_functions, routes_of
from jobsched.config import Role
from jobsched_local.routes import ROUTES, Route, match_resource, match_route


@pytest.mark.parametrize(
    ("method", "path", "resource", "params"),
    [
        ("GET", "/health", "/health", {}),
        ("GET", "/api/v1/jobs", "/api/v1/jobs", {}),
        ("POST", "/api/v1/jobs/", "/api/v1/jobs", {}),
        ("GET", "/api/v1/jobs/j-1", "/api/v1/jobs/{job_id}", {"job_id": "j-1"}),
        ("DELETE", "/api/v1/jobs/j-1", "/api/v1/jobs/{job_id}", {"job_id": "j-1"}),
        ("POST", "/api/v1/jobs/j-1/run", "/api/v1/jobs/{job_id}/run", {"job_id": "j-1"}),
        ("POST", "/api/v1/jobs/j-1/unknown", "/api/v1/{proxy+}", {"proxy": "jobs/j-1/unknown"}),
        ("GET", "/api/v1/unknown", "/api/v1/{proxy+}", {"proxy": "unknown"}),
        ("PATCH", "/api/v1/jobs/j-1/x/y", "/api/v1/{proxy+}", {"proxy": "jobs/j-1/x/y"}),
    ],
)
def test_matches_the_most_specific_resource(
    method: str, path: str, resource: str, params: dict[str, str]
) -> None:
    match = match_route(method, path)
    assert match is not None
    assert match.route.resource == resource
    assert match.path_parameters == params


def test_health_needs_no_key_and_the_api_does() -> None:
    health = match_route("GET", "/health")
    jobs = match_route("GET", "/api/v1/jobs")
    assert health is not None and not health.route.key_required
    assert jobs is not None and jobs.route.key_required
    assert all(route.key_required for route in ROUTES if route.resource.startswith("/api/"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/nothing"),
        ("POST", "/health"),  # resource exists, method does not
        ("PATCH", "/api/v1/jobs"),  # the most specific resource wins, and it has no PATCH
        ("GET", "/api/v1"),  # {proxy+} needs at least one segment
    ],
)
def test_unknown_path_or_method_matches_nothing(method: str, path: str) -> None:
    assert match_route(method, path) is None


def test_any_method_matches_every_verb() -> None:
    routes = [Route("ANY", "/things/{id}", "things", key_required=True)]
    for method in ("GET", "PUT", "OPTIONS"):
        match = match_route(method, "/things/7", routes)
        assert match is not None and match.path_parameters == {"id": "7"}


def test_resource_templates() -> None:
    assert match_resource("/a/{b}/c", "/a/1/c") == {"b": "1"}
    assert match_resource("/a/{b}/c", "/a/1/d") is None
    assert match_resource("/a/{b}", "/a/1/2") is None
    assert match_resource("/a/{rest+}", "/a/1/2") == {"rest": "1/2"}


def test_reads_are_open_to_every_role_and_writes_to_operators_and_admins() -> None:
    for route in ROUTES:
        if not route.key_required:
            assert route.roles == ANYONE, route
        elif route.function == "identity_api" or route.resource.endswith("/webhook-secret"):
            # The tenant's keys, clients, audit and webhook secrets: admins alone, never a scoped token.
            assert (route.roles, route.scope) == (ADMIN_ROLES, None) == ({Role.ADMIN}, None), route
        elif route.method in ("GET", ANY):
            assert route.roles == READ_ROLES, route
        else:
            assert route.roles == WRITE_ROLES == {Role.OPERATOR, Role.ADMIN}, route


def test_path_parameters_are_the_named_segments_in_order() -> None:
    (execution,) = [r for r in routes_of("executions_api") if r.resource.endswith("{execution_id}")]
    (catch_all,) = [r for r in ROUTES if r.method == ANY]
    assert execution.path_parameters == ("job_id", "execution_id")
    assert catch_all.path_parameters == ()


def test_routes_are_found_per_function_in_table_order() -> None:
    assert route_functions(key_required=True) == (
        "job_api",
        "executions_api",
        "schedule_api",
        "identity_api",
    )
    assert route_functions(key_required=False) == ("health", "deep_health")
    assert [r.method for r in routes_of("schedule_api")] == ["GET", "POST", "DELETE", "POST", "GET"]
    with pytest.raises(KeyError):
        routes_of("nobody")
