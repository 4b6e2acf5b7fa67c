"""The REST API's resources and methods, as the regional stack defines them, and API Gateway's matching.

API Gateway picks the most specific resource first (literal segments beat {param}, which beats {proxy+})
and only then looks for the method on it; a path or method it does not know gets 403
"Missing Authentication Token".
"""

from __future__ import annotations

from dataclasses import dataclass

from jobsched.config import DEEP_HEALTH_PATH

ANY = "ANY"


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    function: str
    key_required: bool


ROUTES: list[Route] = [
    Route("GET", "/health", "health", key_required=False),
    Route("GET", DEEP_HEALTH_PATH, "deep_health", key_required=False),
    Route("GET", "/api/v1/jobs", "job_api", key_required=True),
    Route("POST", "/api/v1/jobs", "job_api", key_required=True),
    Route("GET", "/api/v1/jobs/{job_id}", "job_api", key_required=True),
    Route("PUT", "/api/v1/jobs/{job_id}", "job_api", key_required=True),
    Route("DELETE", "/api/v1/jobs/{job_id}", "job_api", key_required=True),
    Route("POST", "/api/v1/jobs/{job_id}/webhook-secret", "job_api", key_required=True),
    Route("POST", "/api/v1/jobs/{job_id}/run", "executions_api", key_required=True),
    Route("POST", "/api/v1/jobs/{job_id}/backfill", "executions_api", key_required=True),
    Route("GET", "/api/v1/executions/{job_id}", "executions_api", key_required=True),
    Route("GET", "/api/v1/executions/{job_id}/{execution_id}", "executions_api", key_required=True),
    Route("POST", "/api/v1/executions/{job_id}/retry", "executions_api", key_required=True),
    Route("GET", "/api/v1/schedule/status", "schedule_api", key_required=True),
    Route("POST", "/api/v1/schedule/{job_id}", "schedule_api", key_required=True),
    Route("DELETE", "/api/v1/schedule/{job_id}", "schedule_api", key_required=True),
    Route(ANY, "/api/v1/{proxy+}", "job_api", key_required=True),
]


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def match_route(method: str, path: str, routes: list[Route] = ROUTES) -> RouteMatch | None:
    """The route API Gateway would invoke for this request, or None (403 Missing Authentication Token)."""
    best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
    for resource in dict.fromkeys(route.resource for route in routes):
        params = match_resource(resource, path)
        if params is None:
            continue
        rank = specificity(resource)
        if best is None or rank > best[0]:
            best = (rank, resource, params)
    if best is None:
        return None
    _, resource, params = best
    methods = {route.method: route for route in routes if route.resource == resource}
    route = methods.get(method.upper()) or methods.get(ANY)
    return RouteMatch(route, params) if route else None


def match_resource(resource: str, path: str) -> dict[str, str] | None:
    """Path parameters if `path` fits the resource template, else None."""
    template = _segments(resource)
    actual = _segments(path)
    params: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = actual[index]
        elif part != actual[index]:
            return None
    return params if len(actual) == len(template) else None


def specificity(resource: str) -> tuple[int, ...]:
    """Per segment: 2 for a literal, 1 for {param}, 0 for {proxy+}; compared left to right."""
    return tuple(
        0 if part.endswith("+}") else 1 if part.startswith("{") else 2 for part in _segments(resource)
    )


def _segments(path: str) -> list[str]:
    return [part for part in path.split("/") if part]
