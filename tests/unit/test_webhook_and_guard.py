"""Signing per Standard Webhooks and retry backoff (the SSRF guard: test_target_guard.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobsched.execution.models import MAX_QUEUE_DELAY_SECONDS, backoff_delay, queue_delay
from jobsched.jobs.models import RetryPolicy
from jobsched.targets.webhook import new_webhook_secret, secret_key, sign, signature_headers, verify

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
