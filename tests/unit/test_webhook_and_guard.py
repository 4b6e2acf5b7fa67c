"""Signing per Standard Webhooks, the SSRF guard's address classes, and retry backoff."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from jobsched.executions import MAX_QUEUE_DELAY_SECONDS, backoff_delay, queue_delay
from jobsched.jobs import RetryPolicy
from jobsched.target_guard import TargetRefused, allowed_addresses, check_target_url, forbidden_reason
from jobsched.webhook import new_webhook_secret, secret_key, sign, signature_headers, verify

# The test vector published with the Standard Webhooks specification and its reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_specs_published_test_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_headers_verify_and_a_changed_body_does_not() -> None:
    headers = signature_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert headers == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    assert verify(SPEC_SECRET, headers, SPEC_BODY)
    assert not verify(SPEC_SECRET, headers, SPEC_BODY + b" ")
    assert not verify(new_webhook_secret(), headers, SPEC_BODY)


def test_new_secrets_are_whsec_with_32_random_bytes() -> None:
    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # AWS, GCP and Azure instance metadata
        "100.100.100.200",  # Alibaba metadata (shared address space)
        "0.0.0.0",  # noqa: S104 (an address under test, nothing binds to it)
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
    ],
)
def test_local_private_and_metadata_addresses_are_refused(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_a_host_resolving_to_any_forbidden_address_is_refused() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.5"]

    with pytest.raises(TargetRefused, match=r"10\.0\.0\.5, a private address"):
        allowed_addresses(
            "https://hooks.example.com/x", allow_http=False, allow_private=False, resolver=resolver
        )
    assert allowed_addresses(
        "https://hooks.example.com/x", allow_http=False, allow_private=True, resolver=resolver
    ) == ["93.184.215.14", "10.0.0.5"]


def test_plain_http_only_where_allowed() -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    with pytest.raises(TargetRefused, match="https"):
        allowed_addresses(
            "http://hooks.example.com/x", allow_http=False, allow_private=False, resolver=resolver
        )
    assert allowed_addresses(
        "http://hooks.example.com/x", allow_http=True, allow_private=False, resolver=resolver
    )


def test_create_time_check_accepts_a_host_that_does_not_resolve_yet() -> None:
    def unresolvable(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    check_target_url(
        "https://later.example.com/", allow_http=False, allow_private=False, resolver=unresolvable
    )
    with pytest.raises(TargetRefused):
        check_target_url(
            "https://[::1]/", allow_http=False, allow_private=False, resolver=lambda h, p: ["::1"]
        )


def test_backoff_grows_exponentially_and_is_capped_at_a_day() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_seconds=30, backoff_multiplier=2.0)
    assert [backoff_delay(policy, attempt) for attempt in (1, 2, 3, 4)] == [30, 60, 120, 240]
    huge = RetryPolicy(max_attempts=10, backoff_seconds=3600, backoff_multiplier=10.0)
    assert backoff_delay(huge, 9) == 24 * 3600


def test_queue_delay_hops_at_most_900_seconds() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert queue_delay(now + timedelta(seconds=1), now) == 1
    assert queue_delay(now + timedelta(hours=2), now) == MAX_QUEUE_DELAY_SECONDS
    assert queue_delay(now - timedelta(seconds=5), now) == 0
