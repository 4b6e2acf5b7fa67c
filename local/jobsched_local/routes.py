"""API Gateway's route matching, over the route table the regional stack is built from (jobsched.api.routes).

API Gateway picks the most specific resource first (literal segments beat {param}, which beats {proxy+})
and only then looks for the method on it; a path or method it does not know gets 403
"Missing Authentication Token".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobsched.api.routes import ANY, ROUTES, Route

__all__ = ["ANY", "ROUTES", "Route", "RouteMatch", "match_resource", "match_route", "specificity"]


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: dict[str, str]


def match_route(method: str, path: str, routes: Sequence[Route] = ROUTES) -> RouteMatch | None:
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
