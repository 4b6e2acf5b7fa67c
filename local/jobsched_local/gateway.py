"""The API Gateway stand-in: the REST API's request pipeline in front of the same Lambda handlers.

Per request, in API Gateway's order: route, stage throttle, x-api-key present, REQUEST authorizer
(allows cached per key), API key enabled in a usage plan of this stage, the plan's per-key throttle
and daily quota, then the handler with a REST proxy v1 event. The stage throttle runs before the
authorizer, so a flood of requests cannot reach the authorizer's table reads either.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from jobsched.config import API_KEY_HEADER, STAGE_BURST, STAGE_RATE_PER_SECOND
from jobsched_local.api_docs import with_api_docs
from jobsched_local.authorizer_gate import CachingAuthorizer, Decision
from jobsched_local.key_check import KeyInPlan
from jobsched_local.lambda_context import make_context
from jobsched_local.proxy_event import (
    ApiKeyIdentity,
    ApiStage,
    HttpRequest,
    MalformedProxyResponse,
    ProxyResponse,
    authorizer_event,
    proxy_event,
    read_proxy_response,
)
from jobsched_local.routes import ROUTES, Route, RouteMatch, match_route
from jobsched_local.throttle import Clock, KeyLimiter, TokenBucket, Verdict

LOG = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
KeyCheck = Callable[[str], KeyInPlan | None]  # key value -> its usage plan on this stage, or None


def gateway_error(status: int, body: dict[str, Any], error_type: str) -> ProxyResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]
    return ProxyResponse(status, headers, json.dumps(body).encode("utf-8"))


# The bodies are API Gateway's own (note the capital M in the Deny answer: that is what it sends).
MISSING_TOKEN = (403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException")
UNAUTHORIZED = (401, {"message": "Unauthorized"}, "UnauthorizedException")
DENIED = (403, {"Message": "User is not authorized to access this resource"}, "AccessDeniedException")
AUTHORIZER_FAILED = (500, {"message": None}, "AuthorizerConfigurationException")
FORBIDDEN = (403, {"message": "Forbidden"}, "ForbiddenException")
TOO_MANY_REQUESTS = (429, {"message": "Too Many Requests"}, "TooManyRequestsException")
LIMIT_EXCEEDED = (429, {"message": "Limit Exceeded"}, "LimitExceededException")
INTERNAL_ERROR = (502, {"message": "Internal server error"}, "InternalServerErrorException")


class Gateway:
    def __init__(
        self,
        api: ApiStage,
        handlers: dict[str, Handler],
        authorizer: CachingAuthorizer | None,
        key_check: KeyCheck,
        routes: list[Route] = ROUTES,
        clock: Clock = time.time,
    ) -> None:
        self.api = api
        self._handlers = handlers
        self._authorizer = authorizer
        self._key_check = key_check
        self._routes = routes
        self._limiter = KeyLimiter(clock)
        self._stage_bucket = TokenBucket(STAGE_RATE_PER_SECOND, STAGE_BURST, clock)

    def handle(self, request: HttpRequest) -> ProxyResponse:
        response = self._respond(request)
        return ProxyResponse(
            response.status, [*response.headers, ("x-amzn-RequestId", request.request_id)], response.body
        )

    def _respond(self, request: HttpRequest) -> ProxyResponse:
        match = match_route(request.method, request.path, self._routes)
        if match is None:
            return gateway_error(*MISSING_TOKEN)
        if not self._stage_bucket.try_take():
            return gateway_error(*TOO_MANY_REQUESTS)
        identity: ApiKeyIdentity | None = None
        authorizer_context: dict[str, Any] | None = None
        if match.route.key_required:
            admitted = self._admit(request, match)
            if isinstance(admitted, ProxyResponse):
                return admitted
            identity, authorizer_context = admitted
        return self._invoke(request, match, identity, authorizer_context)

    def _admit(
        self, request: HttpRequest, match: RouteMatch
    ) -> ProxyResponse | tuple[ApiKeyIdentity, dict[str, Any] | None]:
        key_value = request.header(API_KEY_HEADER)
        if not key_value:
            return gateway_error(*UNAUTHORIZED)
        context: dict[str, Any] | None = None
        if self._authorizer is not None:
            result = self._authorizer.authorize(key_value, authorizer_event(request, match, self.api))
            if result.decision is Decision.UNAUTHORIZED:
                return gateway_error(*UNAUTHORIZED)
            if result.decision is Decision.DENY:
                return gateway_error(*DENIED)
            if result.decision is Decision.ERROR:
                return gateway_error(*AUTHORIZER_FAILED)
            context = result.context
        # Looked up on every request, never cached: a new key works at once and a revoked one stops at once.
        in_plan = self._key_check(key_value)
        if in_plan is None:
            return gateway_error(*FORBIDDEN)
        verdict = self._limiter.check(in_plan.key_id, in_plan.limits)
        if verdict is Verdict.THROTTLED:
            return gateway_error(*TOO_MANY_REQUESTS)
        if verdict is Verdict.QUOTA_EXCEEDED:
            return gateway_error(*LIMIT_EXCEEDED)
        return ApiKeyIdentity(value=key_value, key_id=in_plan.key_id), context

    def _invoke(
        self,
        request: HttpRequest,
        match: RouteMatch,
        identity: ApiKeyIdentity | None,
        authorizer_context: dict[str, Any] | None,
    ) -> ProxyResponse:
        function = match.route.function
        handler = self._handlers.get(function)
        if handler is None:
            LOG.error("no handler for function %s (functions/%s/handler.py is missing)", function, function)
            return gateway_error(*INTERNAL_ERROR)
        event = proxy_event(request, match, self.api, identity, authorizer_context)
        try:
            return read_proxy_response(handler(event, make_context(function, self.api.region)))
        except MalformedProxyResponse as exc:
            LOG.error("function %s returned a malformed proxy response: %s", function, exc)
        except Exception:
            LOG.error("function %s raised:\n%s", function, traceback.format_exc())
        return gateway_error(*INTERNAL_ERROR)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        request = to_http_request(Request(environ), self.api.stage)
        response = self.handle(request)
        headers = [(name, value) for name, value in response.headers if name.lower() != "content-length"]
        headers.append(("Content-Length", str(len(response.body))))
        start_response(f"{response.status} {_reason(response.status)}", headers)
        LOG.info(
            "%s %s %s %.1fms",
            request.method,
            request.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return [response.body]


def to_http_request(request: Request, stage: str) -> HttpRequest:
    path = request.path
    # Clients configured with the deployed base URL (…/prod) work unchanged.
    if path == f"/{stage}" or path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :] or "/"
    return HttpRequest(
        method=request.method.upper(),
        path=path,
        headers=list(request.headers.items()),
        query=list(request.args.items(multi=True)),
        body=request.get_data(cache=False),
        source_ip=request.remote_addr or "127.0.0.1",
        request_id=str(uuid.uuid4()),
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The gateway logs each request itself, with its timing.
        return


class GatewayServer:
    """The gateway on a threaded HTTP server, one thread per connection, in the background."""

    def __init__(self, gateway: Gateway, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, with_api_docs(gateway.wsgi_app), threaded=True, request_handler=_QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
