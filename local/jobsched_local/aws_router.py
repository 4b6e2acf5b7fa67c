"""The runtime's one AWS endpoint (:4566): DynamoDB and its streams to DynamoDB Local, the rest to moto.

Both speak the AWS wire protocol, so the router only picks the upstream by the request's X-Amz-Target
(DynamoDB_20120810.* and DynamoDBStreams_20120810.* go to DynamoDB Local) and relays the request as it
came: method, path, headers (Host included, so moto's queue URLs keep naming this endpoint) and body.
Keep-alive on both sides: a boto3 client reuses its connection, and each router thread keeps one
connection per upstream.
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

LOG = logging.getLogger(__name__)
DYNAMODB_TARGET_PREFIXES = ("DynamoDB_20120810.", "DynamoDBStreams_20120810.")
TRANSACT_WRITE = "DynamoDB_20120810.TransactWriteItems"
LIST_TABLES = "DynamoDB_20120810.ListTables"
# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never relayed.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
BAD_GATEWAY_BODY = b'{"__type":"ServiceUnavailable","message":"the local runtime cannot reach its emulator"}'


def is_dynamodb_request(target: str | None) -> bool:
    return bool(target) and str(target).startswith(DYNAMODB_TARGET_PREFIXES)


class Upstream:
    """An HTTP upstream with one persistent connection per calling thread."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._timeout = timeout
        self._local = threading.local()

    def forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        # A kept-alive connection the upstream closed meanwhile fails on first use: retry once, fresh.
        for attempt in (1, 2):
            connection = self._connection(fresh=attempt == 2)
            try:
                connection.request(method, path, body=body, headers=dict(headers))
                response = connection.getresponse()
                payload = response.read()
                return response.status, response.getheaders(), payload
            except (http.client.HTTPException, ConnectionError):
                connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None or fresh:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
            self._local.connection = connection
        return connection


# (X-Amz-Target, request body) of a request moto accepted (200), before the answer is relayed.
AcceptedHook = Callable[[str | None, bytes], None]


class AwsRouter:
    """WSGI app relaying each request to DynamoDB Local or to moto's server.

    `on_accepted` sees every request moto answered 200 before its answer is relayed: the runtime journals
    the execution queue's messages there (queue_journal.py), so what the caller was told is on disk.
    """

    def __init__(self, dynamodb_url: str, moto_url: str, on_accepted: AcceptedHook | None = None) -> None:
        self._dynamodb = Upstream(dynamodb_url)
        self._moto = Upstream(moto_url)
        self._on_accepted = on_accepted

    def upstream_for(self, target: str | None) -> Upstream:
        return self._dynamodb if is_dynamodb_request(target) else self._moto

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        upstream = self.upstream_for(request.headers.get("X-Amz-Target"))
        path = request.full_path if request.query_string else request.path
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        body = request.get_data(cache=False)
        headers.append(("Content-Length", str(len(body))))
        target = request.headers.get("X-Amz-Target")
        try:
            status, response_headers, payload = upstream.forward(request.method, path, headers, body)
            if target == TRANSACT_WRITE and status == 200:
                self._await_commit(headers)
            elif status == 200 and self._on_accepted is not None and upstream is self._moto:
                self._on_accepted(target, body)
        except OSError as exc:
            LOG.error("AWS endpoint: %s:%d did not answer: %s", upstream.host, upstream.port, exc)
            status, response_headers, payload = 503, [("Content-Type", "application/json")], BAD_GATEWAY_BODY
        relayed = [(k, v) for k, v in response_headers if k.lower() not in _HOP_BY_HOP]
        relayed.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {http.client.responses.get(status, 'Unknown')}", relayed)
        return [payload]

    def _await_commit(self, headers: list[tuple[str, str]]) -> None:
        """DynamoDB Local answers a transaction before storing it; its next request waits for the store.

        See dynamodb_local.install_commit_barrier: without this, a kill -9 right after the answer loses it.
        """
        barrier = [(k, v) for k, v in headers if k.lower() not in ("x-amz-target", "content-length")]
        body = b'{"Limit":1}'
        barrier += [("X-Amz-Target", LIST_TABLES), ("Content-Length", str(len(body)))]
        self._dynamodb.forward("POST", "/", barrier, body)


class _KeepAliveHandler(WSGIRequestHandler):
    # HTTP/1.1, so SDK clients keep their connection instead of opening one per call.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class AwsRouterServer:
    def __init__(self, router: AwsRouter, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, router, threaded=True, request_handler=_KeepAliveHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
