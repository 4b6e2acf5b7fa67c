"""The gateway over a real loopback socket: what http.server refuses before the gateway runs is JSON too."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from jobsched_local.gateway import Gateway, GatewayServer
from jobsched_local.proxy_event import ApiStage

API = ApiStage(api_id="api1", stage="prod", region="us-east-1", account_id="123456789012")


@pytest.fixture
def port() -> Iterator[int]:
    server = GatewayServer(Gateway(API, {}, None, lambda value: None), "127.0.0.1", 0)
    server.start()
    yield int(server.url.rsplit(":", 1)[1])
    server.stop()


def raw_request(port: int, lines: list[str]) -> tuple[int, str | None, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.connect()
    assert connection.sock is not None
    connection.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    response = http.client.HTTPResponse(connection.sock, method="GET")
    response.begin()
    body = json.loads(response.read())
    connection.close()
    return response.status, response.getheader("Content-Type"), body["error"]


def test_a_header_line_over_64_kb_is_431_json(port: int) -> None:
    status, content_type, error = raw_request(
        port, ["GET /api/v1/jobs HTTP/1.1", "Host: x", "x-api-key: k", "x-huge: " + "a" * 70_000]
    )
    assert (status, content_type, error["code"]) == (
        431,
        "application/json",
        "request_header_fields_too_large",
    )


def test_more_than_100_headers_is_431_json(port: int) -> None:
    headers = [f"x-h{i}: v" for i in range(120)]
    status, content_type, error = raw_request(port, ["GET /health HTTP/1.1", "Host: x", *headers])
    assert (status, content_type, error["code"]) == (
        431,
        "application/json",
        "request_header_fields_too_large",
    )
