"""The page token every list answer hands out as `next_token`, and reads back: one codec for jobs, executions
and the audit.

A token is the last id of the page (URL-safe base64 of {"after": id}, unpadded): opaque to callers, and
checked on the way back in, so a token that is not one this API returned (garbage, another list's token, a
key of another item kind) is a 400 naming `next_token`, never a query from an arbitrary key.
"""

from __future__ import annotations

import base64
import binascii
import json

from jobsched.errors import BadRequest


def encode_page_token(after: str) -> str:
    raw = json.dumps({"after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, id_prefix: str) -> str:
    """The id the token was made from; it must be an id of the list's kind (it starts with `id_prefix`)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise BadRequest.field("next_token", "is not a token this API returned") from None
    if not isinstance(after, str) or not after.startswith(id_prefix):
        raise BadRequest.field("next_token", "is not a token this API returned")
    return after
