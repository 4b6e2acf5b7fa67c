"""The API Gateway stand-in: the REST API's request pipeline in front of the same Lambda handlers.

Per request, in API Gateway's order: route, stage throttle, x-api-key or Authorization present, REQUEST
authorizer (allows cached per credential), the API key it names (usageIdentifierKey: the key source is
the authorizer) enabled in a usage plan of this stage, the plan's per-key throttle
and daily quota, then the handler with a REST proxy v1 event. The stage throttle runs before the
authorizer, so a flood of requests cannot reach the authorizer's table reads either.

In front of all that, as WAF is in front of API Gateway, the per-client-IP limit (JSON 429 with
Retry-After); behind it, responses of at least COMPRESSION_MIN_BYTES are gzip-compressed for clients
that accept it, as the REST API's minimumCompressionSize does.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from http import HTTPStatus
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

from jobsched.api.http_api import per_ip_limit_body
from jobsched.config import (
    API_KEY_HEADER,
    PER_IP_LIMIT_PER_WINDOW,
    PER_IP_RATE_PER_SECOND,
    PER_IP_RETRY_AFTER_SECONDS,
    STAGE_BURST,
    STAGE_RATE_PER_SECOND,
)
from jobsched_local.api_docs import with_api_docs
from jobsched_local.authorizer_gate import CachingAuthorizer, Decision
from jobsched_local.compression import compress_response
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
from jobsched_local.throttle import SECONDS_PER_DAY, Clock, KeyLimiter, SourceLimiter, TokenBucket, Verdict

LOG = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any], Any], Any]
KeyCheck = Callable[[str], KeyInPlan | None]  # key value -> its usage plan on this stage, or None
MAX_HEADER_BYTES = 10 * 1024  # API Gateway's limit on the request's headers, names and values together


def gateway_error(
    status: int, body: dict[str, Any], error_type: str, *extra: tuple[str, str]
) -> ProxyResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type), *extra]
    return ProxyResponse(status, headers, json.dumps(body).encode("utf-8"))


def per_ip_limited() -> ProxyResponse:
    """WAF's custom response for the per-IP rate rule (the same body and Retry-After as the web ACL's)."""
    headers = [("Content-Type", "application/json"), ("Retry-After", str(PER_IP_RETRY_AFTER_SECONDS))]
    return ProxyResponse(429, headers, per_ip_limit_body().encode("utf-8"))


def retry_after_throttle(rate_per_second: float) -> tuple[str, str]:
    """Retry-After for a throttled request: when the bucket has a token again (whole seconds, at least 1)."""
    return "Retry-After", str(max(1, math.ceil(1 / rate_per_second)) if rate_per_second > 0 else 1)


def retry_after_quota(now: float) -> tuple[str, str]:
    """Retry-After for an exhausted daily quota: the seconds until it resets at midnight UTC."""
    return "Retry-After", str(max(1, math.ceil(SECONDS_PER_DAY - now % SECONDS_PER_DAY)))


def headers_too_large(size: int) -> ProxyResponse:
    """API Gateway takes at most 10 KB of request headers; larger gets 431 with the service's envelope."""
    message = f"request headers are {size} bytes; the most accepted is {MAX_HEADER_BYTES}"
    body = {
        "error": {
            "code": "request_header_fields_too_large",
            "message": message,
            "details": [{"field": "headers", "message": f"at most {MAX_HEADER_BYTES} bytes in all"}],
        }
    }
    return ProxyResponse(431, [("Content-Type", "application/json")], json.dumps(body).encode("utf-8"))


def header_bytes(headers: Iterable[tuple[str, str]]) -> int:
    return sum(
        len(name.encode("latin-1", "replace")) + len(value.encode("latin-1", "replace")) + 4
        for name, value in headers
    )


# The bodies are API Gateway's own (note the capital M in the Deny answer: that is what it sends).
MISSING_TOKEN = (403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException")
UNAUTHORIZED = (401, {"message": "Unauthorized"}, "UnauthorizedException")
# A key that is no longer in a usage plan (revoked): API Gateway's INVALID_API_KEY response, which the
# deployed API maps to 401 as well (infra/constructs/api_gateway.py), so a revoked key reads as one.
INVALID_API_KEY = (401, {"message": "Unauthorized"}, "UnauthorizedException")
DENIED = (403, {"Message": "User is not authorized to access this resource"}, "AccessDeniedException")
AUTHORIZER_FAILED = (500, {"message": None}, "AuthorizerConfigurationException")
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
        routes: Sequence[Route] = ROUTES,
        clock: Clock = time.time,
    ) -> None:
        self.api = api
        self._handlers = handlers
        self._authorizer = authorizer
        self._key_check = key_check
        self._routes = routes
        self._clock = clock
        self._limiter = KeyLimiter(clock)
        self._stage_bucket = TokenBucket(STAGE_RATE_PER_SECOND, STAGE_BURST, clock)
        self._per_ip = SourceLimiter(PER_IP_RATE_PER_SECOND, PER_IP_LIMIT_PER_WINDOW, clock)

    def handle(self, request: HttpRequest) -> ProxyResponse:
        # WAF runs before API Gateway: a client over its per-IP limit reaches neither routes nor keys.
        if not self._per_ip.try_take(request.source_ip):
            response = per_ip_limited()
        else:
            response = compress_response(self._respond(request), request.header("Accept-Encoding"))
        return ProxyResponse(
            response.status, [*response.headers, ("x-amzn-RequestId", request.request_id)], response.body
        )

    def _respond(self, request: HttpRequest) -> ProxyResponse:
        size = header_bytes(request.headers)
        if size > MAX_HEADER_BYTES:
            return headers_too_large(size)
        match = match_route(request.method, request.path, self._routes)
        if match is None:
            return gateway_error(*MISSING_TOKEN)
        if not self._stage_bucket.try_take():
            return gateway_error(*TOO_MANY_REQUESTS, retry_after_throttle(STAGE_RATE_PER_SECOND))
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
        credential = key_value or request.header("Authorization")
        if not credential:
            return gateway_error(*UNAUTHORIZED)
        context: dict[str, Any] | None = None
        if self._authorizer is not None:
            result = self._authorizer.authorize(credential, authorizer_event(request, match, self.api))
            if result.decision is Decision.UNAUTHORIZED:
                return gateway_error(*UNAUTHORIZED)
            if result.decision is Decision.DENY:
                return gateway_error(*DENIED)
            if result.decision is Decision.ERROR:
                return gateway_error(*AUTHORIZER_FAILED)
            context = result.context
            # The API's key source is the authorizer: its usageIdentifierKey is the key the plan counts.
            key_value = result.usage_key or key_value
        if not key_value:
            return gateway_error(*UNAUTHORIZED)
        # A new key works at once and a revoked one stops at once (key_check.remembered_key_check).
        in_plan = self._key_check(key_value)
        if in_plan is None:
            return gateway_error(*INVALID_API_KEY)
        verdict = self._limiter.check(in_plan.key_id, in_plan.limits)
        if verdict is Verdict.THROTTLED:
            return gateway_error(*TOO_MANY_REQUESTS, retry_after_throttle(in_plan.limits.rate))
        if verdict is Verdict.QUOTA_EXCEEDED:
            return gateway_error(*LIMIT_EXCEEDED, retry_after_quota(self._clock()))
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

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What http.server refuses before the gateway sees it (a header line over 64 KB, more than 100
        headers, a malformed request line) gets the service's JSON envelope, not an HTML page."""
        body = json.dumps(
            {"error": {"code": _error_code(code), "message": message or _reason(code), "details": []}}
        ).encode("utf-8")
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
        self.close_connection = True


def _error_code(status: int) -> str:
    return "request_header_fields_too_large" if status == 431 else _reason(status).lower().replace(" ", "_")


class GatewayServer:
    """The gateway on a threaded HTTP server, one thread per connection, in the background."""

    def __init__(
        self, gateway: Gateway, host: str, port: int, wrap: Callable[[Any], Any] | None = None
    ) -> None:
        app = with_api_docs(gateway.wsgi_app)
        # `wrap` puts more endpoints beside the API on the same address (the local token issuer).
        self._server: BaseWSGIServer = make_server(
            host, port, wrap(app) if wrap else app, threaded=True, request_handler=_QuietRequestHandler
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
