"""Standard Webhooks signing: the per-job secret and the webhook-* headers of every HTTP target call.

https://www.standardwebhooks.com: the signed content is "{webhook-id}.{webhook-timestamp}.{body}", the
signature HMAC-SHA256 keyed by the base64-decoded part of a "whsec_" secret, sent as "v1,<base64>".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32  # the spec asks for 24 to 64 bytes of randomness


class WebhookSecretError(ValueError):
    """The value is not a whsec_ secret this service could have issued."""


def new_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise WebhookSecretError("webhook secret is not whsec_<base64>") from None


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one delivery."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """True if one of the space-separated v1 signatures matches (receivers' side, used by the tests)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        expected = sign(secret, lowered["webhook-id"], int(lowered["webhook-timestamp"]), body)
    except (KeyError, ValueError):
        return False
    return any(hmac.compare_digest(expected, given) for given in lowered.get("webhook-signature", "").split())
