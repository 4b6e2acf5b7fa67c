"""A job's fire token, apart from the fire message's model: the Job API issues tokens and never builds it."""

from __future__ import annotations

import secrets


def new_fire_token() -> str:
    """A job's fire token: 32 random bytes, URL-safe; only the service's own fires carry it."""
    return secrets.token_urlsafe(32)
