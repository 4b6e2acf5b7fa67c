"""The REST API's routes, declared once: method, resource path, the function that serves it, whether it needs
an API key (and so the authorizer), and the roles that may call it.

The regional stack builds its API Gateway resources and methods from this table
(infra/constructs/api_routes.py); the local runtime provisions and matches routes from it; the OpenAPI
generator checks the functions' documented operations against it; the services' role checks use its role
sets; the tests compare the synthesized template with it. A new route is one line here plus its handler.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobsched.config import DEEP_HEALTH_PATH, Role

ANY = "ANY"
API_PREFIX = "/api/v1"

# Who may call what: viewers read, operators and admins write, admins alone manage the tenant's keys,
# clients and webhook secrets (docs/architecture.md "Tenancy and access").
READ_ROLES = frozenset({Role.VIEWER, Role.OPERATOR, Role.ADMIN})
WRITE_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})
ADMIN_ROLES = frozenset({Role.ADMIN})
# A route without a key has no caller identity: anyone may call it.
ANYONE: frozenset[Role] = frozenset()


@dataclass(frozen=True)
class Route:
    method: str
    resource: str
    function: str
    key_required: bool = True
    roles: frozenset[Role] = READ_ROLES
    # The OAuth scope a client's token must also hold; None: no scoped token may call it (keys and users
    # only, by their role).
    scope: str | None = None

    @property
    def path_parameters(self) -> tuple[str, ...]:
        """The {name} segments of the resource, in order ({proxy+} is not a declared parameter)."""
        return tuple(
            part[1:-1]
            for part in self.resource.split("/")
            if part.startswith("{") and part.endswith("}") and not part.endswith("+}")
        )


def _read(method: str, resource: str, function: str, scope: str | None = None) -> Route:
    return Route(method, resource, function, key_required=True, roles=READ_ROLES, scope=scope)


def _write(method: str, resource: str, function: str, scope: str | None = None) -> Route:
    return Route(method, resource, function, key_required=True, roles=WRITE_ROLES, scope=scope)


def _admin(method: str, resource: str, function: str) -> Route:
    return Route(method, resource, function, key_required=True, roles=ADMIN_ROLES, scope=None)


JOBS = f"{API_PREFIX}/jobs"
JOB = f"{JOBS}/{{job_id}}"
EXECUTIONS = f"{API_PREFIX}/executions/{{job_id}}"
SCHEDULE = f"{API_PREFIX}/schedule"

# Per function, in the order the stack adds them (which the API deployment's logical id depends on).
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", key_required=False, roles=ANYONE),
    Route("GET", DEEP_HEALTH_PATH, "deep_health", key_required=False, roles=ANYONE),
    _read("GET", JOBS, "job_api", "jobs.read"),
    _write("POST", JOBS, "job_api", "jobs.write"),
    _read("GET", JOB, "job_api", "jobs.read"),
    _write("PUT", JOB, "job_api", "jobs.write"),
    _write("DELETE", JOB, "job_api", "jobs.write"),
    _admin("POST", f"{JOB}/webhook-secret", "job_api"),
    # Any other /api/v1 path reaches the Job API too, so unknown routes get its JSON 404 (after the same key
    # and authorizer checks) instead of API Gateway's "Missing Authentication Token" 403.
    _read(ANY, f"{API_PREFIX}/{{proxy+}}", "job_api"),
    _read("GET", EXECUTIONS, "executions_api", "executions.read"),
    _read("GET", f"{EXECUTIONS}/{{execution_id}}", "executions_api", "executions.read"),
    _write("POST", f"{EXECUTIONS}/retry", "executions_api", "executions.retry"),
    _write("POST", f"{JOB}/run", "executions_api", "executions.retry"),
    _write("POST", f"{JOB}/backfill", "executions_api", "executions.retry"),
    _read("GET", f"{SCHEDULE}/status", "schedule_api", "jobs.read"),
    _write("POST", f"{SCHEDULE}/{{job_id}}", "schedule_api", "jobs.write"),
    _write("DELETE", f"{SCHEDULE}/{{job_id}}", "schedule_api", "jobs.write"),
    _write("POST", f"{SCHEDULE}/bulk", "schedule_api", "jobs.write"),
    _read("GET", f"{SCHEDULE}/bulk/{{operation_id}}", "schedule_api", "jobs.read"),
    # Identity: a tenant admin's own keys and OAuth clients, and the audit of their management; never open
    # to a scoped token.
    _admin("POST", f"{API_PREFIX}/keys", "identity_api"),
    _admin("GET", f"{API_PREFIX}/keys", "identity_api"),
    _admin("DELETE", f"{API_PREFIX}/keys/{{key_id}}", "identity_api"),
    _admin("POST", f"{API_PREFIX}/clients", "identity_api"),
    _admin("GET", f"{API_PREFIX}/clients", "identity_api"),
    _admin("DELETE", f"{API_PREFIX}/clients/{{client_id}}", "identity_api"),
    _admin("GET", f"{API_PREFIX}/audit", "identity_api"),
)


def routes_of(function: str) -> tuple[Route, ...]:
    """The routes one function serves, in table order."""
    found = tuple(route for route in ROUTES if route.function == function)
    if not found:
        raise KeyError(f"no route is served by {function!r}")
    return found


def route_functions(*, key_required: bool | None = None) -> tuple[str, ...]:
    """The functions behind the routes (those needing a key, those not, or all), in table order."""
    return tuple(
        dict.fromkeys(
            route.function for route in ROUTES if key_required is None or route.key_required is key_required
        )
    )
