"""Shapes of the Job API that are not the job itself: list pages and query parsing."""

from __future__ import annotations

from pydantic import BaseModel

from jobsched.errors import InvalidInput
from jobsched.jobs import JobView


class JobList(BaseModel):
    items: list[JobView]
    next_token: str | None


def parse_tag_filter(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, tag_value = value.partition(":")
    if not sep or not key:
        raise InvalidInput.field("tag", "must be key:value")
    return key, tag_value
