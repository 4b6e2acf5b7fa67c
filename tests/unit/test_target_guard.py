"""The SSRF table: every way of naming an internal address is refused, at create and again at call time.

Each row is a target URL and what its host resolves to (the resolver is injected: no DNS in unit tests).
A literal address in any form (decimal, hex, octal, short IPv4; IPv6 embedding an IPv4) never reaches the
resolver: the guard reads it itself, so a resolver that reads it differently cannot let it through.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pytest

from jobsched.targets.adapters.dns import resolve_host
from jobsched.targets.guard import (
    TargetPolicy,
    TargetRefused,
    allowed_addresses,
    check_target_url,
    forbidden_reason,
    ip_literal,
    parse_host_port,
    url_problem,
)

DEPLOYED = TargetPolicy(allow_http=False)
PUBLIC = "93.184.215.14"


def answers(*addresses: str) -> object:
    def resolver(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolver


def no_dns(host: str, port: int) -> Sequence[str]:
    raise AssertionError(f"a literal address must not be resolved ({host})")


# (row name, URL, what the host resolves to; None for a literal address that must not be resolved)
SSRF_TABLE: list[tuple[str, str, tuple[str, ...] | None]] = [
    ("loopback", "https://127.0.0.1/hook", None),
    ("loopback elsewhere in 127/8", "https://127.8.9.10/", None),
    ("private 10/8", "https://10.1.2.3/", None),
    ("private 172.16/12 low", "https://172.16.0.1/", None),
    ("private 172.16/12 high", "https://172.31.255.254/", None),
    ("private 192.168/16", "https://192.168.1.1/", None),
    ("link-local", "https://169.254.1.1/", None),
    ("metadata 169.254.169.254", "https://169.254.169.254/latest/meta-data/", None),
    ("metadata IPv6 fd00:ec2::254", "https://[fd00:ec2::254]/latest/meta-data/", None),
    ("metadata Alibaba 100.100.100.200", "https://100.100.100.200/", None),
    ("unspecified 0.0.0.0", "https://0.0.0.0/", None),
    ("decimal IPv4", "https://2130706433/", None),
    ("hex IPv4", "https://0x7f000001/", None),
    ("octal IPv4", "https://0177.0.0.1/", None),
    ("short IPv4", "https://127.1/", None),
    ("dotted hex IPv4", "https://0x7f.0.0.1/", None),
    ("decimal metadata", "https://2852039166/", None),
    ("IPv4-mapped IPv6 loopback", "https://[::ffff:127.0.0.1]/", None),
    ("IPv4-mapped IPv6 metadata", "https://[::ffff:169.254.169.254]/", None),
    ("IPv4-compatible IPv6", "https://[::127.0.0.1]/", None),
    ("6to4 of loopback", "https://[2002:7f00:1::]/", None),
    ("6to4 of 10/8", "https://[2002:a00:1::1]/", None),
    ("6to4 of metadata", "https://[2002:a9fe:a9fe::]/", None),
    ("NAT64 of loopback", "https://[64:ff9b::7f00:1]/", None),
    ("NAT64 of metadata", "https://[64:ff9b::a9fe:a9fe]/", None),
    ("NAT64 of a public address", "https://[64:ff9b::808:808]/", None),
    ("local-use NAT64", "https://[64:ff9b:1::a00:1]/", None),
    ("IPv6 loopback", "https://[::1]/", None),
    ("IPv6 unspecified", "https://[::]/", None),
    ("IPv6 ULA fc00::/7", "https://[fc00::1]/", None),
    ("IPv6 ULA fd00::/8", "https://[fd12:3456:789a::1]/", None),
    ("IPv6 link-local", "https://[fe80::1]/", None),
    ("IPv6 link-local with a zone", "https://[fe80::1%25eth0]/", None),
    ("Teredo", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", None),
    ("multicast", "https://224.0.0.1/", None),
    ("a name resolving to loopback", "https://evil.example.com/", ("127.0.0.1",)),
    ("a name resolving to IPv6 loopback", "https://evil6.example.com/", ("::1",)),
    ("a name resolving to metadata", "https://imds.example.com/", ("169.254.169.254",)),
    ("a name resolving to public and private", "https://mixed.example.com/", (PUBLIC, "10.0.0.5")),
    ("a name resolving to IPv4-mapped private", "https://mapped.example.com/", ("::ffff:10.0.0.1",)),
    ("localhost", "https://localhost/", ("127.0.0.1", "::1")),
]


@pytest.mark.parametrize(
    ("url", "resolved"), [row[1:] for row in SSRF_TABLE], ids=[row[0] for row in SSRF_TABLE]
)
def test_refused_at_create_and_at_call_time(url: str, resolved: tuple[str, ...] | None) -> None:
    resolver = no_dns if resolved is None else answers(*resolved)
    with pytest.raises(TargetRefused):
        check_target_url(url, DEPLOYED, resolver=resolver)  # type: ignore[arg-type]
    with pytest.raises(TargetRefused):
        allowed_addresses(url, DEPLOYED, resolver=resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        (f"https://{PUBLIC}/hook", None),
        ("https://[2606:4700:4700::1111]/", None),
        ("https://[2002:808:808::1]/", None),  # 6to4 of a public address
        ("https://hooks.example.com/x", (PUBLIC, "2606:4700:4700::1111")),
    ],
)
def test_public_targets_pass(url: str, resolved: tuple[str, ...] | None) -> None:
    resolver = no_dns if resolved is None else answers(*resolved)
    check_target_url(url, DEPLOYED, resolver=resolver)  # type: ignore[arg-type]
    assert allowed_addresses(url, DEPLOYED, resolver=resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0", "0.0.0.0"),  # noqa: S104 (an address under test)
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ],
)
def test_every_form_of_a_literal_address_is_read_as_inet_aton_reads_it(host: str, address: str) -> None:
    assert ip_literal(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize("host", ["256.0.0.1", "1.2.3.4.5", "example.123", "0x1g.0.0.1", "4294967296", "::g"])
def test_a_numeric_host_that_is_no_address_is_refused_before_any_resolver(host: str) -> None:
    with pytest.raises(TargetRefused, match="not a valid"):
        ip_literal(host)
    assert url_problem(f"https://{host if ':' not in host else f'[{host}]'}/") is not None


def test_a_name_is_not_a_literal() -> None:
    assert ip_literal("hooks.example.com") is None
    assert ip_literal("123.example.com") is None


def test_dns_that_changes_between_create_and_call_is_caught_at_call_time() -> None:
    answers_in_turn = [[PUBLIC], ["127.0.0.1"]]

    def rebinding(host: str, port: int) -> Sequence[str]:
        return answers_in_turn.pop(0)

    check_target_url("https://rebind.example.com/", DEPLOYED, resolver=rebinding)
    with pytest.raises(TargetRefused, match="loopback"):
        allowed_addresses("https://rebind.example.com/", DEPLOYED, resolver=rebinding)


def test_a_host_that_does_not_resolve_yet_passes_at_create_and_fails_at_call_time() -> None:
    def unresolvable(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    check_target_url("https://later.example.com/", DEPLOYED, resolver=unresolvable)
    with pytest.raises(TargetRefused, match="does not resolve"):
        allowed_addresses("https://later.example.com/", DEPLOYED, resolver=unresolvable)


def test_a_name_with_no_addresses_is_refused_at_call_time() -> None:
    with pytest.raises(TargetRefused, match="does not resolve"):
        allowed_addresses("https://empty.example.com/", DEPLOYED, resolver=answers())  # type: ignore[arg-type]


def test_plain_http_only_where_the_policy_allows_it() -> None:
    resolver = answers(PUBLIC)
    with pytest.raises(TargetRefused, match="https"):
        allowed_addresses("http://hooks.example.com/x", DEPLOYED, resolver=resolver)  # type: ignore[arg-type]
    http = TargetPolicy(allow_http=True)
    assert allowed_addresses("http://hooks.example.com/x", http, resolver=resolver) == [PUBLIC]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://user:pass@hooks.example.com/", "credentials"),
        ("https://token@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/a b", "whitespace"),
        (" https://hooks.example.com/", "whitespace"),
        ("https://hooks.example.com/\tx", "whitespace"),
        ("https://hooks.example.com/\r\nHost: evil", "control"),
        ("https://hooks.example.com/\x00", "control"),
        ("https://hooks.example.com\\@127.0.0.1/", "backslash"),
        ("https://hooks.example.com:99999/", "port"),
        ("https://hooks.example.com:0/", "port"),
        ("ftp://hooks.example.com/", "http(s)"),
        ("https:///path-only", "http(s)"),
    ],
)
def test_malformed_urls_are_refused_whatever_the_policy(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None and problem in found
    with pytest.raises(TargetRefused):
        check_target_url(url, TargetPolicy(allow_http=True), resolver=answers(PUBLIC))  # type: ignore[arg-type]


LOCAL = TargetPolicy.of(
    allow_http=True, allowed=["127.0.0.1:9000", "localhost:9001", "[::1]:9002"], reserved_ports=[8080, 4566]
)


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("http://127.0.0.1:9000/hook", None),
        ("http://localhost:9000/hook", ("127.0.0.1",)),  # the allowed address, by another name
        ("http://2130706433:9000/hook", None),  # the allowed address, in another form
        ("http://LOCALHOST:9001/", ("127.0.0.1", "::1")),  # the allowed name, whatever it resolves to
        ("http://[::1]:9002/", None),
    ],
)
def test_the_local_allow_list_admits_exactly_its_host_and_port(
    url: str, resolved: tuple[str, ...] | None
) -> None:
    resolver = no_dns if resolved is None else answers(*resolved)
    check_target_url(url, LOCAL, resolver=resolver)  # type: ignore[arg-type]
    assert allowed_addresses(url, LOCAL, resolver=resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "resolved", "reason"),
    [
        ("http://127.0.0.1:9001/", None, "loopback"),  # allowed host, other port
        ("http://127.0.0.2:9000/", None, "loopback"),  # other loopback address, allowed port
        ("http://localhost:9002/", ("127.0.0.1",), "loopback"),
        ("http://169.254.169.254:9000/", None, "link-local"),
        ("http://127.0.0.1:8080/", None, "own ports"),  # the runtime's API
        ("http://127.0.0.1:4566/", None, "own ports"),  # the runtime's AWS endpoint
        ("http://hooks.example.com:4566/", (PUBLIC,), "own ports"),
    ],
)
def test_locally_everything_else_private_and_the_runtimes_own_ports_stay_refused(
    url: str, resolved: tuple[str, ...] | None, reason: str
) -> None:
    resolver = no_dns if resolved is None else answers(*resolved)
    with pytest.raises(TargetRefused, match=reason):
        check_target_url(url, LOCAL, resolver=resolver)  # type: ignore[arg-type]
    with pytest.raises(TargetRefused, match=reason):
        allowed_addresses(url, LOCAL, resolver=resolver)  # type: ignore[arg-type]


def test_a_reserved_port_cannot_be_allowed() -> None:
    policy = TargetPolicy.of(allow_http=True, allowed=["127.0.0.1:8080"], reserved_ports=[8080])
    with pytest.raises(TargetRefused, match="own ports"):
        allowed_addresses("http://127.0.0.1:8080/", policy, resolver=no_dns)


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("LocalHost.:9001", ("localhost", 9001)),
        ("[::1]:9002", ("::1", 9002)),
        ("0x7f000001:9003", ("127.0.0.1", 9003)),
    ],
)
def test_allow_list_entries_are_canonical(entry: str, parsed: tuple[str, int]) -> None:
    assert parse_host_port(entry) == parsed


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "2002:808:808::"])
def test_public_addresses_have_no_reason(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_the_dns_adapter_answers_each_address_once_in_the_resolvers_order() -> None:
    # The suite's hermetic getaddrinfo: *.example.com is one public address, other names do not resolve.
    assert resolve_host("hooks.example.com", 443) == [PUBLIC]
    assert resolve_host("127.0.0.1", 80) == ["127.0.0.1"]
    with pytest.raises(OSError):
        resolve_host("nowhere.invalid", 443)
