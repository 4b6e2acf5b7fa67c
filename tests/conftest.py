"""Fixtures for every test: name resolution stays on this machine; API request metrics are written per
invocation."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from jobsched import telemetry

# A public address (never a private or reserved one) that the SSRF guard accepts for *.example.com.
EXAMPLE_COM_ADDRESS = "93.184.215.14"
_real_getaddrinfo = socket.getaddrinfo


def _hermetic_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if name in ("", "localhost") or _is_ip_literal(name):
        return _real_getaddrinfo(host, port, *args, **kwargs)
    if name == "example.com" or name.endswith(".example.com"):
        return [
            (
                socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (EXAMPLE_COM_ADDRESS, int(port or 0)),
            )
        ]
    raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolvable in tests (no DNS)")


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never ask a DNS server: *.example.com resolves to a fixed public address, other names fail."""
    monkeypatch.setattr(socket, "getaddrinfo", _hermetic_getaddrinfo)
    yield


@pytest.fixture(autouse=True)
def api_request_metrics_per_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Handlers called in this process write their API request metrics at the end of every invocation, as
    in the local runtime, so a test reads a request's metrics right after it and never another test's.
    The deployed interval (jobsched.settings.TelemetrySettings) has its own tests with an injected clock."""
    monkeypatch.setattr(telemetry, "api_request_metrics", telemetry.ApiRequestMetrics(flush_seconds=0))
