"""One page-token codec for every list: opaque, and a token is read back only by the list that made it."""

from __future__ import annotations

import pytest

from jobsched.errors import BadRequest
from jobsched.execution.adapters.execution_store import decode_execution_token, encode_execution_token
from jobsched.jobs.service import decode_page_token as decode_job_token
from jobsched.jobs.service import encode_page_token as encode_job_token
from jobsched.page_tokens import decode_page_token, encode_page_token

REFUSED = [{"field": "next_token", "message": "is not a token this API returned"}]


def test_a_token_round_trips_and_is_opaque() -> None:
    token = encode_page_token("aud_01J")
    assert "aud_01J" not in token and "=" not in token
    assert decode_page_token(token, "aud_") == "aud_01J"


@pytest.mark.parametrize("token", ["garbage!", "e30", "ü", encode_page_token("job_01J")])
def test_what_this_list_did_not_hand_out_is_a_400_naming_next_token(token: str) -> None:
    with pytest.raises(BadRequest) as caught:
        decode_page_token(token, "aud_")
    assert caught.value.details == REFUSED


def test_the_job_and_execution_lists_share_the_codec_and_refuse_each_others_tokens() -> None:
    assert encode_job_token("job_01J") == encode_page_token("job_01J")
    assert encode_execution_token("exe_1") == encode_page_token("exe_1")
    assert decode_execution_token(encode_execution_token("exe_1")) == "exe_1"
    with pytest.raises(BadRequest):
        decode_execution_token(encode_job_token("job_01J"))
    with pytest.raises(BadRequest):
        decode_job_token(encode_execution_token("exe_1"))
