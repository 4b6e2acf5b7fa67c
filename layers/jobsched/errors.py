"""Domain errors. Logic raises these; one module (jobsched.api.http_api) maps them to status codes."""

from __future__ import annotations

from typing import Any, Self


class DomainError(Exception):
    """Base of every error the service reports to a caller on purpose."""

    code = "error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @classmethod
    def field(cls, location: str, message: str) -> Self:
        """An error about one named field of the request (body, query or header)."""
        return cls(f"{location}: {message}", [{"field": location, "message": message}])


class InvalidInput(DomainError):
    """The request is well-formed but a field's value is not acceptable."""

    code = "validation_error"


class BadRequest(DomainError):
    code = "bad_request"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class LimitExceeded(DomainError):
    code = "limit_exceeded"
