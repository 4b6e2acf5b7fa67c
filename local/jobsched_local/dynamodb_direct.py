"""A function worker's DynamoDB calls, sent straight to DynamoDB Local with the commit barrier.

A worker would otherwise send them to the runtime's AWS endpoint, whose router relays them (one more
HTTP hop and its parsing in the runtime process for every call). Instead, a botocore `before-send` hook
sends each DynamoDB request itself on one kept-alive connection per thread, and after every write it
confirms the write is stored before botocore sees the answer:

DynamoDB Local answers a write before it is in its file (a kill -9 right after the answer can lose it),
and answers the next request on the same connection only once the write is stored. So after a write
answered 200 the hook sends a ListTables on that same connection and waits for it. If that answer does
not come (the connection broke, DynamoDB Local died or did not answer within the timeout), the call
fails with `CommitUnconfirmed`: botocore does not retry it (the write may or may not be stored), the
handler fails and the caller gets a 5xx, never an acknowledgment of a write that may be lost.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse

# Every operation that changes an item: each is confirmed stored before its answer is used.
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteTransaction"}
)
BARRIER_TARGET = "DynamoDB_20120810.ListTables"
BARRIER_BODY = b'{"Limit":1}'
BARRIER_TIMEOUT_SECONDS = 60.0
# The hop-by-hop headers http.client sets itself for the connection it keeps.
_OWN_HEADERS = frozenset({"content-length", "connection", "host", "transfer-encoding"})


class CommitUnconfirmed(RuntimeError):
    """A write was answered but could not be confirmed stored: its outcome is unknown."""


class _Body:
    """The raw body botocore reads an `AWSResponse` from (`stream()`)."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


class DirectDynamoDB:
    """Sends DynamoDB requests to `endpoint_url` on one kept-alive connection per thread."""

    def __init__(self, endpoint_url: str, timeout: float = BARRIER_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._timeout = timeout
        self._local = threading.local()

    def install(self, events: Any) -> None:
        """Hook a botocore session's (or client's) events: its DynamoDB calls go through `send`."""
        events.register("before-send.dynamodb", self.before_send)

    def before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        if urlsplit(request.url).netloc != urlsplit(self.endpoint_url).netloc:
            return None  # a client pointed elsewhere on purpose: botocore sends it as usual
        operation = event_name.rsplit(".", 1)[-1]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _OWN_HEADERS}
        status, response_headers, payload = self.send(
            request.method, _path_of(request.url), headers, _bytes_of(request.body), operation
        )
        return AWSResponse(request.url, status, response_headers, _Body(payload))

    def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes, operation: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The request's answer; for a write answered 200, only once the barrier confirmed it stored."""
        connection, reused = self._connection()
        try:
            status, response_headers, payload = _exchange(connection, method, path, headers, body)
        except (http.client.HTTPException, OSError):
            connection.close()
            self._local.connection = None
            if not reused:
                raise
            # A kept-alive connection DynamoDB Local closed meanwhile fails before it sends anything
            # (http.client raises on the first read of a connection closed while idle): resend once, fresh.
            connection, _ = self._connection()
            status, response_headers, payload = _exchange(connection, method, path, headers, body)
        if operation in WRITE_OPERATIONS and status == 200:
            self._confirm(connection, headers, operation)
        return status, response_headers, payload

    def _confirm(
        self, connection: http.client.HTTPConnection, headers: dict[str, str], operation: str
    ) -> None:
        if connection.sock is None:  # DynamoDB Local closed the connection with its answer
            self._local.connection = None
            raise CommitUnconfirmed(f"DynamoDB Local answered {operation} and closed the connection")
        barrier = {k: v for k, v in headers.items() if k.lower() not in ("x-amz-target", "content-length")}
        barrier["X-Amz-Target"] = BARRIER_TARGET
        try:
            status, _, _ = _exchange(connection, "POST", "/", barrier, BARRIER_BODY)
        except (http.client.HTTPException, OSError) as exc:
            connection.close()
            self._local.connection = None
            raise CommitUnconfirmed(
                f"DynamoDB Local answered {operation} but did not confirm it stored: {exc!r}"
            ) from exc
        if status != 200:
            raise CommitUnconfirmed(
                f"DynamoDB Local answered {operation} but its barrier request got HTTP {status}"
            )

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection, True
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self._timeout)
        self._local.connection = connection
        return connection, False


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    if response.will_close:
        connection.close()
    return response.status, response.getheaders(), payload


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _bytes_of(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body.read())
