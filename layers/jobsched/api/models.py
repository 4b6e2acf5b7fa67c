"""What the API functions share: the error envelope, routes' documented responses, a body of no fields,
the tag filter.

No job models here (jobsched.api.job_models has the Job API's pages), so a function that returns no job
does not build them when it starts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobsched.empty import empty_list
from jobsched.errors import InvalidInput


class NoFields(BaseModel):
    """The body of a route that takes none: nothing, or {}; any field is refused (422 naming it)."""

    model_config = ConfigDict(extra="forbid")


# The error envelope's models only document it (docs/openapi.json): error_document (jobsched.api.http_api)
# writes the bodies, so a function never builds these unless it generates the OpenAPI document.
class ErrorDetail(BaseModel):
    model_config = ConfigDict(defer_build=True)

    field: str = Field(description="the body field, query parameter or header at fault")
    message: str


class ErrorBody(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str = Field(examples=["validation_error", "not_found", "precondition_failed"])
    message: str
    details: list[ErrorDetail] = Field(default_factory=empty_list)
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer of the service has this body."""

    model_config = ConfigDict(defer_build=True)

    error: ErrorBody


_ERROR_DESCRIPTIONS = {
    400: "Malformed request (JSON, page token)",
    403: "The key's role may not do this",
    404: "No such job for this tenant, or no such route",
    409: "Conflict (idempotency key reused with another body, job limit reached)",
    412: "If-Match names an older version",
    413: "Request body larger than 256 KB",
    415: "Content-Type is not application/json",
    422: "A field is invalid; details name it",
}


def _entry(description: str, model: type[BaseModel] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": description}
    if model is not None:
        entry["content"] = {"application/json": {"model": model}}
    return entry


def responses(status: int, description: str, model: type[BaseModel] | None, *errors: int) -> dict[int, Any]:
    """A route's OpenAPI responses: its success and the error envelope for each error status it can give."""
    return {status: _entry(description, model)} | {
        code: _entry(_ERROR_DESCRIPTIONS[code], ErrorEnvelope) for code in errors
    }


def parse_tag_filter(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, tag_value = value.partition(":")
    if not sep or not key:
        raise InvalidInput.field("tag", "must be key:value")
    return key, tag_value
