"""SSRF guard for HTTP targets: which URLs and resolved addresses a job may call.

Checked when a job is created or replaced (a 422 on target.url) and again right before each call, on the
addresses the call then connects to, so a DNS answer that changed in between cannot reach inside.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Cloud instance-metadata endpoints beyond 169.254.0.0/16 (link-local): AWS's IPv6 IMDS, and
# Alibaba's 100.100.100.200 (inside the shared/CGNAT range that is_private does not cover).
_METADATA_NETWORKS = (
    ipaddress.ip_network("fd00:ec2::/32"),
    ipaddress.ip_network("100.64.0.0/10"),
)


class TargetRefused(ValueError):
    """The target URL or one of its addresses is not allowed here."""


def resolve_host(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def forbidden_reason(address: IpAddress) -> str | None:
    """Why an address may not be called from a deployed stack, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return forbidden_reason(address.ipv4_mapped)
    if any(address in network for network in _METADATA_NETWORKS):
        return "a cloud metadata or shared address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives here)"),
        (address.is_private, "a private address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "an IPv6 site-local address"),
    )
    return next((reason for matched, reason in checks if matched), None)


def check_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """(host, port) of an acceptable URL; raises TargetRefused for a scheme this deployment refuses."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise TargetRefused("must be an https:// URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise TargetRefused("has an invalid port") from None
    return parts.hostname, port


def allowed_addresses(
    url: str, *, allow_http: bool, allow_private: bool, resolver: Resolver = resolve_host
) -> list[str]:
    """The addresses the URL's host resolves to, every one of them allowed; else TargetRefused."""
    host, port = check_url(url, allow_http=allow_http)
    try:
        addresses = list(resolver(host, port))
    except OSError as exc:
        raise TargetRefused(f"host {host} does not resolve ({exc})") from None
    if not addresses:
        raise TargetRefused(f"host {host} does not resolve")
    if not allow_private:
        for text in addresses:
            reason = forbidden_reason(ipaddress.ip_address(text.split("%")[0]))
            if reason is not None:
                raise TargetRefused(f"host {host} resolves to {text}, {reason}")
    return addresses


def check_target_url(
    url: str, *, allow_http: bool, allow_private: bool, resolver: Resolver = resolve_host
) -> None:
    """The create-time check: the scheme, and every address the host resolves to now.

    A host that does not resolve yet is accepted (DNS may come later); the call-time check still applies.
    """
    host, port = check_url(url, allow_http=allow_http)
    if allow_private:
        return
    try:
        addresses = list(resolver(host, port))
    except OSError:
        return
    for text in addresses:
        reason = forbidden_reason(ipaddress.ip_address(text.split("%")[0]))
        if reason is not None:
            raise TargetRefused(f"host {host} resolves to {text}, {reason}")
