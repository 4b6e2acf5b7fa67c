"""Pure parts of the job logic: If-Match, page tokens and idempotency keys."""

from __future__ import annotations

import pytest

from jobsched.errors import BadRequest, InvalidInput, PreconditionFailed
from jobsched.jobs.service import _valid_idempotency_key, decode_page_token, encode_page_token, parse_if_match


@pytest.mark.parametrize(
    ("header", "version"), [(None, None), ("*", None), ('"4"', 4), ('W/"12"', 12), ("7", 7)]
)
def test_if_match_names_a_version(header: str | None, version: int | None) -> None:
    assert parse_if_match(header) == version


def test_if_match_that_names_no_version_fails_the_precondition() -> None:
    with pytest.raises(PreconditionFailed):
        parse_if_match('"abc"')


def test_page_token_round_trips_and_is_opaque() -> None:
    token = encode_page_token("job_01abc")
    assert "job_01abc" not in token
    assert decode_page_token(token) == "job_01abc"


@pytest.mark.parametrize("token", ["garbage!", "e30", encode_page_token("APIKEY#abc"), "ü"])
def test_foreign_page_tokens_are_refused(token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_page_token(token)
    assert caught.value.details == [{"field": "next_token", "message": "is not a token this API returned"}]


def test_idempotency_key_bounds() -> None:
    assert _valid_idempotency_key("order-42") == "order-42"
    for bad in ("", "x" * 256, "tab\there"):
        with pytest.raises(InvalidInput):
            _valid_idempotency_key(bad)
