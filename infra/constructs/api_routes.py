"""API Gateway resources and methods built from the route table (jobsched.api.routes), per function."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_apigateway as apigw

from jobsched.api.routes import API_PREFIX, Route, routes_of

COG4_REASON = (
    "Callers are services holding API keys; the REQUEST Lambda authorizer maps each key to its tenant and "
    "role (DESIGN.md section 2). Cognito is for human users, which come later through the same authorizer."
)


def request_parameters(route: Route) -> dict[str, bool] | None:
    """The route's path parameters, declared required so the request validator checks them."""
    names = route.path_parameters
    return {f"method.request.path.{name}": True for name in names} if names else None


def add_keyed_methods(
    api_v1: apigw.IResource,
    function: str,
    integration: apigw.Integration,
    request_validator: apigw.IRequestValidator,
) -> list[apigw.Method]:
    """Every route of `function` under /api/v1, which all inherit the key requirement and the authorizer."""
    methods = []
    for route in routes_of(function):
        if not route.key_required or not route.resource.startswith(f"{API_PREFIX}/"):
            raise ValueError(f"{route.method} {route.resource} is not a keyed /api/v1 route")
        resource = api_v1.resource_for_path(route.resource.removeprefix(f"{API_PREFIX}/"))
        # CDK does not inherit a request validator from default method options, so each method names it.
        method = resource.add_method(
            route.method,
            integration,
            request_validator=request_validator,
            request_parameters=request_parameters(route),
        )
        Validations.of(method).acknowledge(Acknowledgment(id="AwsSolutions-COG4", reason=COG4_REASON))
        methods.append(method)
    return methods


def add_keyless_method(
    root: apigw.IResource, function: str, integration: apigw.Integration, reason: str
) -> apigw.Method:
    """The one route of `function` that needs neither key nor authorizer (health checks)."""
    (route,) = routes_of(function)
    if route.key_required:
        raise ValueError(f"{route.method} {route.resource} needs a key")
    method = root.resource_for_path(route.resource).add_method(
        route.method, integration, api_key_required=False, authorization_type=apigw.AuthorizationType.NONE
    )
    Validations.of(method).acknowledge(
        Acknowledgment(id="AwsSolutions-APIG4", reason=reason),
        Acknowledgment(id="AwsSolutions-COG4", reason=reason),
    )
    return method
