"""SSRF guard for HTTP targets: which URLs and resolved addresses a job may call.

Checked when a job is created or replaced (a 422 on target.url) and again right before each call, on the
addresses the call then connects to, so a DNS answer that changed in between cannot reach inside.

Only public addresses are callable, unless the deployment's TargetPolicy names a host:port as allowed (the
local runtime's `--allow-target`, for a developer's own receiver). Ports the policy reserves (the local
runtime's own API, AWS endpoint and emulators) are never callable, allowed or not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A host's addresses for a port; the DNS adapter is jobsched.targets.adapters.dns.resolve_host.
Resolver = Callable[[str, int], Sequence[str]]

# Cloud instance-metadata endpoints beyond 169.254.0.0/16 (link-local): AWS's IPv6 IMDS, and
# Alibaba's 100.100.100.200 (inside the shared/CGNAT range that is_private does not cover).
_METADATA_NETWORKS = (
    ipaddress.ip_network("fd00:ec2::/32"),
    ipaddress.ip_network("100.64.0.0/10"),
)
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (well-known and local-use)
# and the deprecated IPv4-compatible form.
_EMBEDDING_V4_IN_LOW_BITS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)
# URL parts that never belong in a target: whitespace and control characters (request smuggling,
# header injection, parsers that disagree about where the host ends).
_FORBIDDEN_URL_CHARACTERS = frozenset(chr(c) for c in range(0x21)) | {"\x7f", "\\"}


class TargetRefused(ValueError):
    """The target URL or one of its addresses is not allowed here."""


@dataclass(frozen=True)
class TargetPolicy:
    """What a deployment lets jobs call: https to public addresses, plus these exceptions."""

    allow_http: bool = False
    # host:port pairs callable even on loopback/private addresses; hosts lowercased, IPs canonical.
    allowed: frozenset[tuple[str, int]] = frozenset()
    # Never callable on any host (the local runtime's own listening ports).
    reserved_ports: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls, *, allow_http: bool, allowed: Iterable[str] = (), reserved_ports: Iterable[int] = ()
    ) -> TargetPolicy:
        return cls(
            allow_http=allow_http,
            allowed=frozenset(parse_host_port(entry) for entry in allowed),
            reserved_ports=frozenset(reserved_ports),
        )

    def allows(self, host: str, port: int) -> bool:
        return (canonical_host(host), port) in self.allowed


def parse_host_port(entry: str) -> tuple[str, int]:
    """'127.0.0.1:9000', '[::1]:9000' or 'localhost:9001' as (host, port); ValueError when malformed."""
    text = entry.strip()
    host, separator, port_text = text.rpartition(":")
    if not separator or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{entry!r} is not host:port (a port from 1 to 65535)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if any(ch in _FORBIDDEN_URL_CHARACTERS or ch in "/?#@[]" for ch in host):
        raise ValueError(f"{entry!r} is not host:port")
    return canonical_host(host), int(port_text)


def canonical_host(host: str) -> str:
    """A host as compared: IP literals in their canonical form, names lowercased without a final dot."""
    literal = ip_literal(host)
    return str(literal) if literal is not None else host.lower().rstrip(".")


def ip_literal(host: str) -> IpAddress | None:
    """The address a URL host names literally, in every form a resolver would accept; None for a name.

    Besides dotted quads and IPv6, the forms inet_aton takes (WHATWG URL: a host whose last label is a
    number is an IPv4 address): 2130706433, 0x7f000001, 0177.0.0.1, 127.1. Such a host that is not a
    valid address raises TargetRefused rather than reaching a resolver that may read it differently.
    """
    text = host.strip("[]").split("%")[0]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise TargetRefused(f"host {host} is not a valid IPv6 address") from None
    labels = text.rstrip(".").split(".")
    if not labels or not _numeric_label(labels[-1]):
        return None
    return _inet_aton(host, labels)


def _numeric_label(label: str) -> bool:
    lowered = label.lower()
    if lowered.startswith("0x"):
        return all(ch in "0123456789abcdef" for ch in lowered[2:])
    return label.isdigit()


def _inet_aton(host: str, labels: list[str]) -> ipaddress.IPv4Address:
    def number(label: str) -> int:
        lowered = label.lower()
        if lowered.startswith("0x"):
            return int(lowered[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        return int(label, 10)

    try:
        if len(labels) > 4 or not all(_numeric_label(label) for label in labels):
            raise ValueError
        parts = [number(label) for label in labels]
        *leading, last = parts
        if any(part > 255 for part in leading) or last >= 256 ** (5 - len(parts)):
            raise ValueError
    except ValueError:
        raise TargetRefused(f"host {host} is not a valid IPv4 address") from None
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, IPv4-compatible), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _EMBEDDING_V4_IN_LOW_BITS) and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IpAddress) -> str | None:
    """Why an address may not be called from a deployed stack, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = forbidden_reason(inner)
            if reason is not None:
                return f"{reason} inside an IPv6 address"
            if address.ipv4_mapped is None and address.sixtofour is None:
                return "a NAT64 or IPv4-compatible address"
    if any(address in network for network in _METADATA_NETWORKS):
        return "a cloud metadata or shared address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives here)"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_private, "a private address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "an IPv6 site-local address"),
        (not address.is_global, "not a public address"),
    )
    return next((reason for matched, reason in checks if matched), None)


def url_problem(url: str) -> str | None:
    """What makes a URL unusable as a target whatever the deployment allows, or None."""
    if any(ch in _FORBIDDEN_URL_CHARACTERS for ch in url):
        return "must not contain whitespace, control characters or backslashes"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({str(exc).lower()})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL with a host"
    if "@" in parts.netloc:
        return "must not carry credentials (user:pass@); send them in a header"
    if port == 0:
        return "has an invalid port"
    try:
        ip_literal(parts.hostname)
    except TargetRefused as exc:
        return str(exc)
    return None


def check_url(url: str, *, allow_http: bool) -> tuple[str, int]:
    """(host, port) of an acceptable URL; raises TargetRefused for a scheme this deployment refuses."""
    problem = url_problem(url)
    if problem is not None:
        raise TargetRefused(problem)
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise TargetRefused("must be an https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def _check_addresses(host: str, port: int, addresses: Sequence[str], policy: TargetPolicy) -> None:
    if policy.allows(host, port):
        return
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if (str(address), port) in policy.allowed:
            continue
        reason = forbidden_reason(address)
        if reason is not None:
            raise TargetRefused(f"host {host} resolves to {text}, {reason}")


def _checked_host(url: str, policy: TargetPolicy) -> tuple[str, int, IpAddress | None]:
    host, port = check_url(url, allow_http=policy.allow_http)
    if port in policy.reserved_ports:
        raise TargetRefused(f"port {port} is one of this runtime's own ports and is never a target")
    return host, port, ip_literal(host)


def allowed_addresses(url: str, policy: TargetPolicy, *, resolver: Resolver) -> list[str]:
    """The addresses the URL's host resolves to, every one of them allowed; else TargetRefused."""
    host, port, literal = _checked_host(url, policy)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except OSError as exc:
            raise TargetRefused(f"host {host} does not resolve ({exc})") from None
        if not addresses:
            raise TargetRefused(f"host {host} does not resolve")
    _check_addresses(host, port, addresses, policy)
    return addresses


def check_target_url(url: str, policy: TargetPolicy, *, resolver: Resolver) -> None:
    """The create-time check: the URL, and every address the host resolves to now.

    A host that does not resolve yet is accepted (DNS may come later); the call-time check still applies.
    """
    host, port, literal = _checked_host(url, policy)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except OSError:
            return
    _check_addresses(host, port, addresses, policy)
